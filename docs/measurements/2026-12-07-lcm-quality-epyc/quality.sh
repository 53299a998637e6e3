#!/bin/bash
# The trained student's quality on shapes (the 20x variant, in f32 and bf16), the structure-only student beside it,
# and the footprint candidate ov-int8-weights; with the footprint suite.
set -u
cd /work/main
export HF_HUB_OFFLINE=1
log=/tmp/chain.log
echo "== quality start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_quality.py suites/test_footprint.py \
  --model shapes --steps 20 --schedulers pndm \
  --variants "torch-fp32,ov-lcm-int8-ptq,ov-lcm-int8-ptq[inference_precision=bf16],ov-lcm-int8-ptq[lcm_train_steps=0],ov-int8-weights" \
  -k "not unet_prediction_error" --results-dir /tmp/s34/quality > /tmp/s34/quality.log 2>&1
echo "quality rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "quality DONE $(date -u +%H:%M:%S)" >> $log
