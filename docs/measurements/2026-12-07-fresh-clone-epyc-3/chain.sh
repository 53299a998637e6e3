#!/bin/bash
# One job at a time, nothing else on the machine: make test (.ci/run) and make bench from fresh clones with
# empty caches, timed; then torch-tome and torch-todo at sdxl-arch 512 beside torch-fp32, 5 interleaved rounds
# (their 5-round figures for ../2026-12-07-sdxl-five-rounds-epyc/, whose torch builds are cached).
set -u
log=/tmp/chain.log
rm -rf /tmp/fresh4 /tmp/fresh5 /tmp/empty7 /tmp/empty8
git clone -q /work/main /tmp/fresh4 && cd /tmp/fresh4
echo "== chain3 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s); SDOPT_CACHE=/tmp/empty7 .ci/run > /tmp/make-test4.log 2>&1
echo "make test rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
git clone -q /work/main /tmp/fresh5 && cd /tmp/fresh5
s=$(date +%s); SDOPT_CACHE=/tmp/empty8 make bench > /tmp/make-bench4.log 2>&1
echo "make bench rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
cd /work/main
s=$(date +%s)
HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sdxlcache MALLOC_MMAP_THRESHOLD_=33554432 .venv/bin/python -m pytest \
  -p no:cacheprovider suites/test_latency.py --model sdxl-arch --resolution 512 --steps 2 --rounds 5 --interleave \
  --variants "torch-fp32,torch-tome,torch-todo" --results-dir /tmp/sdxltorchtok > /tmp/torchtok.log 2>&1
echo "torch tokens 512 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
echo CHAIN3DONE >> $log
