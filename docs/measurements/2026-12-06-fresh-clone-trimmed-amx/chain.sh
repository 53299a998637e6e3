#!/bin/bash
# After SDXL run 1: fresh-clone make test and make bench (empty caches), the whole suite under two ISA overrides,
# then SDXL run 2 (the 1-step headline again, well after run 1). One job at a time.
set -u
while ! grep -q "^DONE" /tmp/sdxl33/run1.log 2>/dev/null || [ ! -e /tmp/go37 ]; do sleep 5; done
H=$(git -C /work/main rev-parse --short HEAD)
rm -rf /tmp/fresh37 /tmp/empty37a /tmp/empty37b
git clone -q /work/main /tmp/fresh37 && cd /tmp/fresh37
s=$(date +%s); SDOPT_CACHE=/tmp/empty37a .ci/run > /tmp/chain37_test.log 2>&1; rc=$?; e=$(date +%s)
echo "make test commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> /tmp/chain37.log
s=$(date +%s); SDOPT_CACHE=/tmp/empty37b make bench > /tmp/chain37_bench.log 2>&1; rc=$?; e=$(date +%s)
echo "make bench commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> /tmp/chain37.log
for isa in avx2 avx512-vnni; do
  s=$(date +%s); SDOPT_ISA=$isa CI=true HF_HUB_OFFLINE=1 SDOPT_TEST_CACHE=/tmp/empty37a .venv/bin/python -m pytest -q -p no:cacheprovider tests/ > /tmp/chain37_$isa.log 2>&1; rc=$?; e=$(date +%s)
  echo "tests isa=$isa commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> /tmp/chain37.log
done
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlprobe/cache MALLOC_MMAP_THRESHOLD_=33554432
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py \
  --model sdxl-turbo-arch --resolution 512 --steps 1 --rounds 5 --interleave \
  --variants "torch-fp32,ov-int8-ptq[runtime=genai]" \
  --results-dir /tmp/sdxl33/results2 > /tmp/sdxl33/suites2.log 2>&1
echo "sdxl run2 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M)" >> /tmp/chain37.log
echo done >> /tmp/chain37.log
