#!/usr/bin/env bash
# Each configuration in 10 fresh processes, configurations interleaved so that drift reaches all alike.
set -u
cache=${1:?cache folder with the tiny variants}
py=${PYTHON:-.venv/bin/python}
here=$(dirname "$0")
declare -A configs=(
  [pipeline-default]="pipeline"
  [pipeline-1-thread]="THREADS=1 pipeline"
  [pipeline-no-pinning-torch-1]="PINNING=NO TORCH_THREADS=1 pipeline"
  [ov-unet-only]="unet-only"
  [ov-parts-default]="parts"
  [ov-parts-no-pinning]="PINNING=NO parts"
)
for round in $(seq 1 10); do
  for name in pipeline-default pipeline-1-thread pipeline-no-pinning-torch-1 ov-unet-only ov-parts-default ov-parts-no-pinning; do
    set -- ${configs[$name]}
    envs=(); while [[ $1 == *=* ]]; do envs+=("$1"); shift; done
    echo "$name round $round: $(env "${envs[@]}" "$py" "$here/probe.py" "$cache" "$1" 2>/dev/null | tail -1)"
  done
done
for i in 1 2 3; do echo "trace $i: $("$py" "$here/probe.py" "$cache" trace 2>/dev/null | tail -1)"; done
