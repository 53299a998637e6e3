#!/bin/bash
# Second run of the step-distillation headline, with the footprint layer beside it: sd15-arch 512, 20 PNDM steps
# asked, 2 interleaved rounds; then memory and footprint. Alone on the machine.
set -u
cd /work/main
export HF_HUB_OFFLINE=1 MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/chain.log
echo "== speed start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py suites/test_footprint.py \
  --model sd15-arch --resolution 512 --steps 20 --rounds 2 --interleave \
  --variants "torch-fp32,ov-lcm-int8-ptq[inference_precision=bf16],ov-lcm-fp32[inference_precision=bf16],ov-lcm-fp32[inference_precision=bf16,text_vae_weights=int4],ov-lcm-int8-ptq[inference_precision=bf16,int8_scope=conv-only]" \
  --results-dir /tmp/s34/speed > /tmp/s34/speed.log 2>&1
echo "speed rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "speed DONE $(date -u +%H:%M:%S)" >> $log
