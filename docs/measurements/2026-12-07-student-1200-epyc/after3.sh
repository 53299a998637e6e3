#!/bin/bash
# The headline's second run, in its own process after the first: latency only, 2 interleaved rounds.
set -u
cd /work/main
export HF_HUB_OFFLINE=1
log=/tmp/chain.log
while ! grep -q "after DONE" $log; do sleep 15; done
echo "== speed2 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py \
  --model sd15-arch --steps 20 --schedulers pndm --rounds 2 --interleave \
  --variants "torch-fp32,ov-lcm-fp32[inference_precision=bf16,todo_factor=2],ov-lcm-fp32[inference_precision=bf16]" \
  --results-dir /tmp/s35/speed2 > /tmp/s35/speed2.log 2>&1
echo "speed2 rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "speed2 DONE $(date -u +%H:%M:%S)" >> $log
