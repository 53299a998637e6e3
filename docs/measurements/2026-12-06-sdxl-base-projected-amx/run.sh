#!/bin/bash
# sdxl-arch (SDXL base form: Euler, guidance 5, a batch of two) at 512x512: builds, then 5 interleaved rounds
# at 2 steps projected to 20, then a direct 20-step generation bracketed by two projected ones per variant
# (bench check-projection). One job at a time, after the verification chain.
set -u
while ! grep -q "^done" /tmp/chain37.log 2>/dev/null; do sleep 5; done
# the Turbo artifacts are no longer needed (both SDXL-Turbo runs are done): their 40 GB make room for base's
rm -rf /tmp/sdxlprobe/cache/sources /tmp/sdxlprobe/cache/variants
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlbase/cache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/sdxlbase/run.log
echo "== start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" > $log
for v in torch-fp32 ov-fp32 ov-int8-ptq; do
  s=$(date +%s)
  .venv/bin/python /tmp/ptqmem/watch.py 21.5 /usr/bin/time -v .venv/bin/python -m sdopt build $v --model sdxl-arch --resolution 512 > /tmp/sdxlbase/build-$v.out 2> /tmp/sdxlbase/build-$v.err
  echo "build $v secs=$(( $(date +%s) - s ))" >> $log
  grep "^watch:" /tmp/sdxlbase/build-$v.out >> $log
  grep -E "Maximum resident|Exit status" /tmp/sdxlbase/build-$v.err >> $log
done
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py \
  --model sdxl-arch --resolution 512 --steps 2 --rounds 5 --interleave --variants "torch-fp32,ov-int8-ptq" \
  --results-dir /tmp/sdxlbase/results > /tmp/sdxlbase/suites.log 2>&1
echo "suites rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
.venv/bin/python -m bench check-projection /tmp/sdxlbase/results/latest --model sdxl-arch --resolution 512 --steps 20 \
  --out /tmp/sdxlbase/check-projection.csv > /tmp/sdxlbase/check.log 2>&1
echo "check rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
echo DONE >> $log
