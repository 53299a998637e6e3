#!/bin/bash
# sdxl-turbo-arch at 512: build torch-fp32 and ov-fp32, then one generation each, with peak RSS.
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/sdxlprobe/cache MALLOC_MMAP_THRESHOLD_=33554432
T=/usr/bin/time
log=/tmp/sdxlprobe/log.txt
: > $log
for step in "build torch-fp32 --model sdxl-turbo-arch" \
            "build ov-fp32 --model sdxl-turbo-arch --resolution 512" \
            "generate torch-fp32 --model sdxl-turbo-arch --height 512 --width 512 --steps 1 --prompt x --out /tmp/sdxlprobe/torch.png" \
            "generate ov-fp32 --model sdxl-turbo-arch --height 512 --width 512 --steps 1 --prompt x --out /tmp/sdxlprobe/ov.png"; do
  echo "== sdopt $step" >> $log
  start=$(date +%s)
  $T -v .venv/bin/python -m sdopt $step > /tmp/sdxlprobe/out.txt 2> /tmp/sdxlprobe/err.txt
  rc=$?
  echo "rc=$rc secs=$(( $(date +%s) - start ))" >> $log
  tail -2 /tmp/sdxlprobe/out.txt >> $log
  grep -E "Maximum resident|Elapsed|Exit status" /tmp/sdxlprobe/err.txt >> $log
  grep -v -E "Loading|Multiple" /tmp/sdxlprobe/err.txt | grep -E "Error|error" | tail -3 >> $log
  df -h / | tail -1 >> $log
done
echo DONE >> $log
