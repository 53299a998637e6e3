#!/bin/bash
# The student's speed beside torch-fp32 with the machine's peak measured at the start: latency, 2 interleaved rounds.
set -u
cd /work/main
export HF_HUB_OFFLINE=1
log=/tmp/chain.log
echo "== speed3 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_footprint.py \
  --model sd15-arch --steps 20 --schedulers pndm --rounds 2 --interleave \
  --variants "torch-fp32,ov-fp32,ov-lcm-fp32[inference_precision=bf16],ov-lcm-int8-ptq[inference_precision=bf16]" \
  --results-dir /tmp/s35/speed3 > /tmp/s35/speed3.log 2>&1
echo "speed3 rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "speed3 DONE $(date -u +%H:%M:%S)" >> $log
