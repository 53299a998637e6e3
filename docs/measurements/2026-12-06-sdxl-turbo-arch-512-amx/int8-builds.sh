#!/bin/bash
# After the full tests: int8 builds of sdxl-turbo-arch at 512 (peak RSS), then the suites, interleaved.
while ! grep -q "^rc=" /tmp/x33/fulltests.log; do sleep 10; done
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlprobe/cache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/sdxlprobe/log2.txt
: > $log
variants=torch-fp32,ov-fp32
for v in ov-int8-weights ov-int8-ptq; do
  echo "== build $v" >> $log
  start=$(date +%s)
  /usr/bin/time -v .venv/bin/python -m sdopt build $v --model sdxl-turbo-arch --resolution 512 > /tmp/sdxlprobe/out2.txt 2> /tmp/sdxlprobe/err2-$v.txt
  rc=$?
  echo "rc=$rc secs=$(( $(date +%s) - start ))" >> $log
  grep -E "Maximum resident|Elapsed" /tmp/sdxlprobe/err2-$v.txt >> $log
  grep "\[sdopt\]" /tmp/sdxlprobe/err2-$v.txt | tail -4 >> $log
  [ $rc = 0 ] && variants=$variants,$v
  df -h / | tail -1 >> $log
done
echo "== suites on $variants $(date)" >> $log
start=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py suites/test_footprint.py \
  --model sdxl-turbo-arch --resolution 512 --steps 1,4 --rounds 5 --interleave --variants $variants \
  --results-dir /tmp/sdxlprobe/results > /tmp/sdxlprobe/suites.log 2>&1
echo "rc=$? secs=$(( $(date +%s) - start )) $(date)" >> $log
echo DONE >> $log
