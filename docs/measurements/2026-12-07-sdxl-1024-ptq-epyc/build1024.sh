#!/bin/bash
# sdxl-arch at 1024, base form: hybrid int8 PTQ built from the cached 1024 OpenVINO FP32 IR (calibration records
# 1024 generations), under the memory watchdog, then the memory probes of it on both runtimes, each in its own
# pytest so a probe the watchdog kills loses only itself. Builds are not timing claims (tests may share the CPU).
set -u
here=$(cd "$(dirname "$0")" && pwd)
watch="$here/../2026-12-06-ptq-memory-amx/watch.py"
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sdxlcache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/chain.log
echo "== build1024 ptq start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
df -h /work | tail -1 >> $log
for v in ov-int8-ptq; do
  s=$(date +%s)
  .venv/bin/python "$watch" 21.5 /usr/bin/time -v .venv/bin/python -m sdopt build $v \
    --model sdxl-arch --resolution 1024 > /tmp/build1024-$v.out 2> /tmp/build1024-$v.err
  echo "build $v rc=$? secs=$(( $(date +%s) - s ))" >> $log
  grep "^watch:" /tmp/build1024-$v.out >> $log
  grep -E "Maximum resident|Exit status" /tmp/build1024-$v.err >> $log
done
for v in ov-int8-ptq "ov-int8-ptq[runtime=genai]"; do
  s=$(date +%s); tag=$(echo "$v" | tr -c 'a-z0-9-\n' _)
  .venv/bin/python "$watch" 21.5 .venv/bin/python -m pytest -p no:cacheprovider suites/test_memory.py \
    suites/test_footprint.py --model sdxl-arch --resolution 1024 --steps 1 --variants "$v" \
    --results-dir /tmp/sdxl1024mem > /tmp/mem1024-$tag.log 2>&1
  rc=$?; w=$(grep "^watch:" /tmp/mem1024-$tag.log)
  echo "memory $v rc=$rc secs=$(( $(date +%s) - s )) $w" >> $log
done
echo "build1024 DONE $(date -u +%H:%M:%S)" >> $log
