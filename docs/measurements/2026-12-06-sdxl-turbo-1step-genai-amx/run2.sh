cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlprobe/cache MALLOC_MMAP_THRESHOLD_=33554432
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py \
  --model sdxl-turbo-arch --resolution 512 --steps 1 --rounds 5 --interleave \
  --variants "torch-fp32,ov-int8-ptq[runtime=genai]" \
  --results-dir /tmp/sdxl33/results2 > /tmp/sdxl33/suites2.log 2>&1
echo "sdxl run2 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M)" >> /tmp/chain37.log
echo done >> /tmp/chain37.log
