#!/bin/bash
# sdxl-arch (SDXL base form: Euler, guidance 5, a batch of two) at 512x512: int8 weights on both OpenVINO runtimes
# against torch-fp32, 5 interleaved rounds at 2 steps (projected to 20 by the suites), then peak memory per
# variant in a fresh process. One job at a time; the builds run under the memory watchdog of the PTQ-memory folder.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlw/cache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/sdxlw/run.log
echo "== start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" > $log
for v in torch-fp32 ov-fp32 ov-int8-weights; do
  s=$(date +%s)
  .venv/bin/python "$here/../2026-12-06-ptq-memory-amx/watch.py" 21.5 /usr/bin/time -v .venv/bin/python -m sdopt build $v \
    --model sdxl-arch --resolution 512 > /tmp/sdxlw/build-$v.out 2> /tmp/sdxlw/build-$v.err
  echo "build $v rc=$? secs=$(( $(date +%s) - s ))" >> $log
  grep "^watch:" /tmp/sdxlw/build-$v.out >> $log
  grep -E "Maximum resident|Exit status" /tmp/sdxlw/build-$v.err >> $log
done
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py \
  --model sdxl-arch --resolution 512 --steps 2 --rounds 5 --interleave \
  --variants "torch-fp32,ov-int8-weights,ov-int8-weights[runtime=genai]" \
  --results-dir /tmp/sdxlw/results > /tmp/sdxlw/suites.log 2>&1
echo "suites rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
echo DONE >> $log
