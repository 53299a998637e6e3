#!/bin/bash
# The order after fixes landed mid-run (the checks first, 1024 last): wait for the sdxl-arch make bench to end;
# once the fixes are on main (the flag file), the variant that run could not build (ToMe int8 on GenAI) beside
# torch-fp32, then make test, the projection probe and make bench on shapes from a fresh clone of the new
# commit with empty caches, then sdxl-arch at 1024 (at1024.sh). One job at a time.
set -u
here=$(cd "$(dirname "$0")" && pwd)
log=/tmp/chain.log
while pgrep -f "make bench PYTEST_ARGS=--model sdxl-arch" > /dev/null; do sleep 10; done
echo "sdxl make bench ended=$(date -u +%H:%M:%S) ($(grep -E 'Exit status|Elapsed' /tmp/sdxl-bench.log | tr '\n' ' '))" >> $log
while [ ! -f /tmp/go2 ]; do sleep 5; done
commit=$(git -C /work/main rev-parse --short HEAD)
cd /work/main && s=$(date +%s)
HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sdxlcache MALLOC_MMAP_THRESHOLD_=33554432 .venv/bin/python -m pytest -p no:cacheprovider \
  suites/test_latency.py suites/test_footprint.py suites/test_memory.py --model sdxl-arch --resolution 512 --steps 2 \
  --rounds 2 --interleave --variants "torch-fp32,ov-tome-int8-ptq[runtime=genai]" --results-dir /tmp/sdxlresults \
  > /tmp/sdxl-genai-tome.log 2>&1
echo "genai tome commit=$commit rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
rm -rf /tmp/fresh2 /tmp/empty3 /tmp/empty4 && git clone -q /work/main /tmp/fresh2 && cd /tmp/fresh2
s=$(date +%s)
SDOPT_CACHE=/tmp/empty3 .ci/run > /tmp/make-test2.log 2>&1
echo "make test commit=$commit rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
SDOPT_CACHE=/tmp/empty3 HF_HUB_OFFLINE=1 .venv/bin/python docs/measurements/2026-12-07-projection-setup-epyc/probe.py \
  /tmp/probe.json > /tmp/probe.log 2>&1
echo "probe rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
SDOPT_CACHE=/tmp/empty4 make bench > /tmp/make-bench2.log 2>&1
echo "make bench commit=$commit rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
"$here"/at1024.sh
echo "at1024 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
echo DONE >> $log
