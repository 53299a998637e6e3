#!/bin/bash
# inference_precision=bf16 on the AMD EPYC (AVX-512 BF16, no AMX): speed and memory at sd15-arch 512 (random
# weights), quality on the shapes model. Alone on the machine; one pytest per question.
set -u
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sd15cache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/chain.log
variants="torch-fp32,ov-fp32,ov-fp32[inference_precision=bf16],ov-int8-ptq,ov-int8-ptq[inference_precision=bf16]"
echo "== bf16 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
for v in ${variants//,/ }; do
  s=$(date +%s)
  .venv/bin/python -m sdopt build "$v" --model sd15-arch --resolution 512 > /tmp/bf16-build.log 2>&1
  echo "build $v rc=$? secs=$(( $(date +%s) - s ))" >> $log
done
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py suites/test_footprint.py \
  --model sd15-arch --resolution 512 --steps 2 --rounds 5 --interleave --variants "$variants" \
  --results-dir /tmp/bf16sd15 > /tmp/bf16sd15.log 2>&1
echo "bf16 sd15-arch rc=$? secs=$(( $(date +%s) - s ))" >> $log
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_quality.py --model shapes --steps 20 \
  --variants "torch-fp32,ov-int8-ptq,ov-int8-ptq[inference_precision=bf16],ov-fp32[inference_precision=bf16]" \
  --quality-prompts 100 -k "not unet_prediction_error" --results-dir /tmp/bf16shapes > /tmp/bf16shapes.log 2>&1
echo "bf16 shapes quality rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "bf16 DONE $(date -u +%H:%M:%S)" >> $log
