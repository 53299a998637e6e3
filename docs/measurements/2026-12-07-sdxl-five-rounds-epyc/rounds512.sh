#!/bin/bash
# sdxl-arch at 512, base form, 2 steps: 5 interleaved rounds for what the whole make bench run timed only twice
# (ToMe/ToDo on OpenVINO FP32 and hybrid PTQ, the GenAI copies of FP32 and PTQ) and the PTQ headline, each
# paired with torch-fp32 in the same run. The cache holds the variants that run built; nothing is built here.
set -u
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sdxlcache MALLOC_MMAP_THRESHOLD_=33554432
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py --model sdxl-arch --resolution 512 --steps 2 \
  --rounds 5 --interleave --results-dir /tmp/sdxl5 \
  --variants "torch-fp32,ov-int8-ptq,ov-tome-fp32,ov-tome-int8-ptq,ov-todo-fp32,ov-todo-int8-ptq,ov-fp32[runtime=genai],ov-int8-ptq[runtime=genai]" \
  > /tmp/sdxl5.log 2>&1
echo "rounds512 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> /tmp/chain.log
