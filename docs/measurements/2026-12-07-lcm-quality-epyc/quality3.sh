#!/bin/bash
# Where the student's quality goes: the trained student in torch and OpenVINO FP32 (bf16 with int4/int8 text
# encoder and VAE weights), int8 PTQ with 8x the calibration or with MatMuls left float; and the footprint
# layer over ov-int8-ptq.
set -u
cd /work/main
export HF_HUB_OFFLINE=1
log=/tmp/chain.log
echo "== quality3 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_quality.py suites/test_footprint.py \
  --model shapes --steps 20 --schedulers pndm \
  --variants "torch-fp32,torch-lcm,ov-lcm-fp32,ov-lcm-fp32[inference_precision=bf16,text_vae_weights=int4],ov-lcm-int8-ptq[calibration_prompts=32],ov-lcm-int8-ptq[int8_scope=conv-only],ov-int8-ptq[text_vae_weights=int4]" \
  -k "not unet_prediction_error" --results-dir /tmp/s34/quality3 > /tmp/s34/quality3.log 2>&1
echo "quality3 rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "quality3 DONE $(date -u +%H:%M:%S)" >> $log
