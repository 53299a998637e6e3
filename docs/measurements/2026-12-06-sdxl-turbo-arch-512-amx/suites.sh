#!/bin/bash
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlprobe/cache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/sdxlprobe/log4.txt
echo "== suites $(date)" > $log
start=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py suites/test_footprint.py \
  --model sdxl-turbo-arch --resolution 512 --steps 4 --rounds 3 --interleave \
  --variants "torch-fp32,ov-fp32,ov-int8-weights,ov-fp32[runtime=genai]" \
  --results-dir /tmp/sdxlprobe/results > /tmp/sdxlprobe/suites3.log 2>&1
echo "rc=$? secs=$(( $(date +%s) - start )) $(date)" >> $log
echo DONE >> $log
