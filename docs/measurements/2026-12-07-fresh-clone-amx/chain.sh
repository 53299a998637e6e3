#!/bin/bash
# After the SDXL int8-weights run: fresh-clone make test and make bench (empty caches), the SDXL headline again
# (run 2, well after run 1), then the whole suite under two ISA overrides. One job at a time.
set -u
log=/tmp/chain41.log
while ! grep -q "^DONE" /tmp/sdxlw/run.log 2>/dev/null || [ ! -e /tmp/go41 ]; do sleep 5; done
H=$(git -C /work/main rev-parse --short HEAD)
rm -rf /tmp/fresh41 /tmp/empty41a /tmp/empty41b
git clone -q /work/main /tmp/fresh41 && cd /tmp/fresh41
s=$(date +%s); SDOPT_CACHE=/tmp/empty41a .ci/run > /tmp/chain41_test.log 2>&1; rc=$?; e=$(date +%s)
echo "make test commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> $log
s=$(date +%s); SDOPT_CACHE=/tmp/empty41b make bench > /tmp/chain41_bench.log 2>&1; rc=$?; e=$(date +%s)
echo "make bench commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> $log
(cd /work/main && export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlw/cache MALLOC_MMAP_THRESHOLD_=33554432 && s=$(date +%s) &&
 .venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py \
   --model sdxl-arch --resolution 512 --steps 2 --rounds 5 --interleave \
   --variants "torch-fp32,ov-int8-weights[runtime=genai]" \
   --results-dir /tmp/sdxlw/results2 > /tmp/sdxlw/suites2.log 2>&1;
 echo "sdxl run2 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M)" >> $log)
for isa in avx2 avx512-vnni; do
  s=$(date +%s); SDOPT_ISA=$isa CI=true HF_HUB_OFFLINE=1 SDOPT_TEST_CACHE=/tmp/empty41a .venv/bin/python -m pytest -q -p no:cacheprovider tests/ > /tmp/chain41_$isa.log 2>&1; rc=$?; e=$(date +%s)
  echo "tests isa=$isa commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> $log
done
echo done >> $log
