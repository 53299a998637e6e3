#!/bin/bash
# After SDXL run 1: fresh-clone make test and make bench (empty caches), full tests under two ISA overrides,
# then SDXL run 2 (the headline variants again, well after run 1).
set -u
while ! grep -q "^DONE" /tmp/ptqmem/sdxl.log 2>/dev/null || [ ! -e /tmp/go36 ]; do sleep 5; done
H=$(git -C /work/main rev-parse --short HEAD)
rm -rf /tmp/fresh35 /tmp/empty35a /tmp/empty35b
git clone -q /work/main /tmp/fresh35 && cd /tmp/fresh35
s=$(date +%s); SDOPT_CACHE=/tmp/empty35a .ci/run > /tmp/chain35_test.log 2>&1; rc=$?; e=$(date +%s)
echo "make test commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> /tmp/chain35.log
s=$(date +%s); SDOPT_CACHE=/tmp/empty35b make bench > /tmp/chain35_bench.log 2>&1; rc=$?; e=$(date +%s)
echo "make bench commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> /tmp/chain35.log
for isa in avx2 avx512-vnni; do
  s=$(date +%s); SDOPT_ISA=$isa CI=true HF_HUB_OFFLINE=1 SDOPT_TEST_CACHE=/tmp/empty35a .venv/bin/python -m pytest -q -p no:cacheprovider tests/ > /tmp/chain35_$isa.log 2>&1; rc=$?; e=$(date +%s)
  echo "tests isa=$isa commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> /tmp/chain35.log
done
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlprobe/cache MALLOC_MMAP_THRESHOLD_=33554432
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py \
  --model sdxl-turbo-arch --resolution 512 --steps 4 --rounds 5 --interleave \
  --variants "torch-fp32,ov-int8-ptq" \
  --results-dir /tmp/sdxlprobe/results2 > /tmp/ptqmem/sdxl-run2.log 2>&1
echo "sdxl run2 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M)" >> /tmp/chain35.log
echo done >> /tmp/chain35.log
