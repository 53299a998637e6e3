#!/bin/bash
# Second run of the step-distillation headline, in its own process well after the first: sd15-arch 512, 20 steps
# asked, 2 interleaved rounds. Alone on the machine.
set -u
cd /work/main
export HF_HUB_OFFLINE=1 MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/chain.log
echo "== lcm2 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py --model sd15-arch \
  --resolution 512 --steps 20 --rounds 2 --interleave \
  --variants "torch-fp32,ov-lcm-fp32,ov-lcm-int8-ptq,ov-lcm-int8-ptq[inference_precision=bf16]" \
  --results-dir /tmp/lcmsd15-2 > /tmp/lcmsd15-2.log 2>&1
echo "lcm2 sd15-arch rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "lcm2 DONE $(date -u +%H:%M:%S)" >> $log
