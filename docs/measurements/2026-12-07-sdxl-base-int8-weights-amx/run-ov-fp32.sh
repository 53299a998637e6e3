#!/bin/bash
# OpenVINO FP32 timed in the SDXL base form: 5 interleaved rounds at 2 steps against torch-fp32, alone on the
# machine, under the PTQ-memory folder's watchdog (its probe peaked at 96-97% of the machine: memory-ov-fp32.sh).
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlw/cache MALLOC_MMAP_THRESHOLD_=33554432
.venv/bin/python "$here/../2026-12-06-ptq-memory-amx/watch.py" 22.5 .venv/bin/python -m pytest -p no:cacheprovider \
  suites/test_latency.py --model sdxl-arch --resolution 512 --steps 2 --rounds 5 --interleave \
  --variants "torch-fp32,ov-fp32" --results-dir /tmp/sdxlw/results-fp32 > /tmp/sdxlw/fp32.log 2>&1
echo "rc=$? end=$(date -u +%H:%M:%S)" >> /tmp/sdxlw/fp32.log
