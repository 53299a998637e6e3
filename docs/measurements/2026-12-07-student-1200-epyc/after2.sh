#!/bin/bash
# After quality2: the student with token downsampling on shapes, then speed/memory/footprint at sd15-arch 512, alone.
set -u
cd /work/main
export HF_HUB_OFFLINE=1
log=/tmp/chain.log
while pgrep -f "results-dir /tmp/s35/quality2" >/dev/null; do sleep 15; done
echo "quality2 ended $(date -u +%H:%M:%S)" >> $log
echo "== quality3 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_quality.py \
  --model shapes --steps 20 --schedulers pndm \
  --variants "torch-fp32,ov-lcm-fp32[inference_precision=bf16,todo_factor=2],ov-lcm-fp32[inference_precision=bf16,text_vae_weights=int4]" \
  -k "not unet_prediction_error" --results-dir /tmp/s35/quality3 > /tmp/s35/quality3.log 2>&1
echo "quality3 rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "== speed start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py suites/test_footprint.py \
  --model sd15-arch --steps 20 --schedulers pndm --rounds 2 --interleave \
  --variants "torch-fp32,ov-fp32,ov-int8-ptq,ov-deepcache-int8-ptq,ov-int8-weights[text_vae_weights=int4],ov-lcm-fp32[inference_precision=bf16],ov-lcm-fp32[inference_precision=bf16,todo_factor=2],ov-lcm-int8-ptq[inference_precision=bf16]" \
  --results-dir /tmp/s35/speed > /tmp/s35/speed.log 2>&1
echo "speed rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "after DONE $(date -u +%H:%M:%S)" >> $log
