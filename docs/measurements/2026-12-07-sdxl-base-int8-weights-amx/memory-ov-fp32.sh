#!/bin/bash
# Does OpenVINO FP32 fit this machine in the SDXL base form (a batch of two)? The memory suite's probe (a fresh
# process: load, one 2-step generation) on both runtimes, under the PTQ-memory folder's watchdog.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlw/cache MALLOC_MMAP_THRESHOLD_=33554432
.venv/bin/python "$here/../2026-12-06-ptq-memory-amx/watch.py" 22.5 .venv/bin/python -m pytest -p no:cacheprovider \
  suites/test_memory.py --model sdxl-arch --resolution 512 --steps 2 --variants "ov-fp32,ov-fp32[runtime=genai]" \
  --results-dir /tmp/sdxlw/results-mem > /tmp/sdxlw/mem.log 2>&1
echo "rc=$? end=$(date -u +%H:%M:%S)" >> /tmp/sdxlw/mem.log
