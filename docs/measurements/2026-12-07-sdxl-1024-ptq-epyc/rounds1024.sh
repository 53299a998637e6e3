#!/bin/bash
# After build1024.sh: 5 interleaved rounds at 1024, 1 step (a UNet call of a batch of two plus the 1024 VAE
# decode), of hybrid PTQ on both runtimes beside torch-fp32, with ov-int8-weights again as the second run of its
# figure from the five-rounds folder (a separate process started hours later). Alone on the machine.
set -u
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sdxlcache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/chain.log
echo "== rounds1024 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py --model sdxl-arch --resolution 1024 --steps 1 \
  --rounds 5 --interleave \
  --variants "torch-fp32,ov-int8-ptq,ov-int8-ptq[runtime=genai],ov-int8-weights" \
  --results-dir /tmp/sdxl1024ptq > /tmp/rounds1024ptq.log 2>&1
echo "rounds1024 ptq rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
