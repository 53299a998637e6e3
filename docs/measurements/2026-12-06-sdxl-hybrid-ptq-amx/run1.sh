#!/bin/bash
# After the tox chain: SDXL-size int8 builds (peak memory, with a watchdog), then the suites interleaved.
while pgrep -f "sdopt build ov-int8-ptq --model sd15-arch" > /dev/null; do sleep 10; done
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlprobe/cache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/ptqmem/sdxl.log
echo "== start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" > $log
for v in ov-int8-weights ov-int8-ptq; do
  start=$(date +%s)
  .venv/bin/python /tmp/ptqmem/watch.py 21.5 /usr/bin/time -v .venv/bin/python -m sdopt build $v --model sdxl-turbo-arch --resolution 512 > /tmp/ptqmem/sdxl-$v.out 2> /tmp/ptqmem/sdxl-$v.err
  echo "$v secs=$(( $(date +%s) - start ))" >> $log
  grep "^watch:" /tmp/ptqmem/sdxl-$v.out >> $log
  grep -E "Maximum resident|Elapsed|Exit status" /tmp/ptqmem/sdxl-$v.err >> $log
  grep "\[sdopt\]" /tmp/ptqmem/sdxl-$v.err | tail -5 >> $log
done
while ! grep -q "^done" /tmp/chain34.log 2>/dev/null; do sleep 10; done
echo "== suites $(date -u +%H:%M:%S)" >> $log
start=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py suites/test_footprint.py \
  --model sdxl-turbo-arch --resolution 512 --steps 4 --rounds 5 --interleave \
  --variants "torch-fp32,ov-fp32,ov-int8-weights,ov-int8-ptq" \
  --results-dir /tmp/sdxlprobe/results > /tmp/ptqmem/sdxl-suites.log 2>&1
echo "suites rc=$? secs=$(( $(date +%s) - start )) $(date -u +%H:%M:%S)" >> $log
echo DONE >> $log
