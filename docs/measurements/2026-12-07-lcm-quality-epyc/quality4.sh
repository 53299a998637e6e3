#!/bin/bash
# The footprint candidate (every weight int8, the text encoder's linear layers int4) on shapes, with ov-fp32 for
# the FID bar and the structure-only student in torch on the same 301 prompts; then footprints at sd15-arch.
set -u
cd /work/main
export HF_HUB_OFFLINE=1
log=/tmp/chain.log
echo "== quality4 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_quality.py suites/test_footprint.py \
  --model shapes --steps 20 --schedulers pndm \
  --variants "torch-fp32,ov-fp32,torch-lcm[lcm_train_steps=0],ov-int8-weights[text_vae_weights=int4],ov-int8-ptq[text_vae_weights=int8]" \
  -k "not unet_prediction_error" --results-dir /tmp/s34/quality4 > /tmp/s34/quality4.log 2>&1
echo "quality4 rc=$? secs=$(( $(date +%s) - s ))" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_footprint.py \
  --model sd15-arch --resolution 512 \
  --variants "torch-fp32,ov-int8-weights,ov-int8-weights[text_vae_weights=int4],ov-lcm-int8-ptq[text_vae_weights=int4],ov-int8-ptq[text_vae_weights=int8]" \
  --results-dir /tmp/s34/footprint > /tmp/s34/footprint.log 2>&1
echo "footprint rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "quality4 DONE $(date -u +%H:%M:%S)" >> $log
