#!/bin/bash
# sdxl-turbo-arch 512, ONE step (SDXL-Turbo's own setting): torch-fp32 against the int8 variants on both
# OpenVINO runtimes, 5 interleaved rounds; peak memory of the GenAI copies. Alone on the machine.
set -u
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlprobe/cache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/sdxl33/run1.log
echo "== start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" > $log
for v in "ov-int8-weights[runtime=genai]" "ov-int8-ptq[runtime=genai]"; do
  s=$(date +%s)
  .venv/bin/python -m sdopt build "$v" --model sdxl-turbo-arch --resolution 512 >> /tmp/sdxl33/builds.log 2>&1
  echo "build $v rc=$? secs=$(( $(date +%s) - s ))" >> $log
done
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py suites/test_memory.py \
  --model sdxl-turbo-arch --resolution 512 --steps 1 --rounds 5 --interleave \
  --variants "torch-fp32,ov-int8-weights,ov-int8-ptq,ov-int8-weights[runtime=genai],ov-int8-ptq[runtime=genai]" \
  -k "test_latency or (test_peak_memory and genai)" \
  --results-dir /tmp/sdxl33/results > /tmp/sdxl33/suites1.log 2>&1
echo "suites rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
echo DONE >> $log
