#!/bin/bash
# Step distillation on the AMD EPYC: speed at sd15-arch 512 measured directly at 20 steps (the student makes its
# own 4 LCM steps; random weights, so its structure only), then quality on shapes (the trained student, and the
# structure-only one as the control that says whether training changed anything). Alone on the machine.
set -u
cd /work/main
export HF_HUB_OFFLINE=1 MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/chain.log
speed="torch-fp32,ov-lcm-fp32,ov-lcm-int8-ptq,ov-lcm-int8-ptq[inference_precision=bf16]"
echo "== lcm start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
for v in ${speed//,/ }; do
  s=$(date +%s)
  SDOPT_CACHE=/work/sd15cache .venv/bin/python -m sdopt build "$v" --model sd15-arch --resolution 512 > /tmp/lcm-build.log 2>&1
  echo "build $v rc=$? secs=$(( $(date +%s) - s ))" >> $log
done
s=$(date +%s)
SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py \
  suites/test_footprint.py --model sd15-arch --resolution 512 --steps 20 --rounds 3 --interleave --variants "$speed" \
  --results-dir /tmp/lcmsd15 > /tmp/lcmsd15.log 2>&1
echo "lcm sd15-arch rc=$? secs=$(( $(date +%s) - s ))" >> $log
s=$(date +%s)
SDOPT_CACHE=/tmp/lcmshapescache .venv/bin/python -m pytest -p no:cacheprovider suites/test_quality.py --model shapes --steps 20 \
  --variants "torch-fp32,torch-lcm,ov-lcm-int8-ptq,ov-lcm-int8-ptq[inference_precision=bf16],torch-lcm[lcm_train_steps=0],ov-lcm-int8-ptq[lcm_train_steps=0]" \
  --quality-prompts 301 -k "not unet_prediction_error" --results-dir /tmp/lcmshapes > /tmp/lcmshapes.log 2>&1
echo "lcm shapes quality rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "lcm DONE $(date -u +%H:%M:%S)" >> $log
