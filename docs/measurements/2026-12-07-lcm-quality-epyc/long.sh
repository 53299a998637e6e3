#!/bin/bash
# Does a longer distillation win adherence back? 1200 steps (twice the default), judged on all 301 prompts.
set -u
cd /work/main
export HF_HUB_OFFLINE=1
log=/tmp/chain.log
echo "== long start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_quality.py \
  --model shapes --steps 20 --schedulers pndm --variants "torch-fp32,torch-lcm[lcm_train_steps=1200]" \
  -k "not unet_prediction_error" --results-dir /tmp/s34/long > /tmp/s34/long.log 2>&1
echo "long rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "long DONE $(date -u +%H:%M:%S)" >> $log
