#!/bin/bash
# sdxl-arch at 1024x1024, base form, after the 512 rounds: the 512 IRs are deleted first (a static 1024 FP32 IR
# is 13 GB and its export holds two copies while saving), then OpenVINO FP32 and int8 weights are built at 1024
# under the memory watchdog, each OpenVINO variant's memory probe runs in its own pytest (a probe the watchdog
# kills loses only itself), and the latency rounds time what fitted beside torch-fp32: 1 step (a UNet call of a
# batch of two at 1024 plus the 1024 VAE decode), projected to 20.
set -u
here=$(cd "$(dirname "$0")" && pwd)
watch="$here/../2026-12-06-ptq-memory-amx/watch.py"
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sdxlcache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/chain.log
echo "== at1024 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
rm -rf /work/sdxlcache/variants/ov-* && df -h /work | tail -1 >> $log
for v in ov-fp32 ov-int8-weights; do
  s=$(date +%s)
  .venv/bin/python "$watch" 21.5 /usr/bin/time -v .venv/bin/python -m sdopt build $v \
    --model sdxl-arch --resolution 1024 > /tmp/build1024-$v.out 2> /tmp/build1024-$v.err
  echo "build $v rc=$? secs=$(( $(date +%s) - s ))" >> $log
  grep "^watch:" /tmp/build1024-$v.out >> $log
  grep -E "Maximum resident|Exit status" /tmp/build1024-$v.err >> $log
done
fits=torch-fp32
for v in ov-fp32 ov-int8-weights "ov-fp32[runtime=genai]" "ov-int8-weights[runtime=genai]"; do
  s=$(date +%s); tag=$(echo "$v" | tr -c 'a-z0-9-\n' _)
  .venv/bin/python "$watch" 21.5 .venv/bin/python -m pytest -p no:cacheprovider suites/test_memory.py \
    suites/test_footprint.py --model sdxl-arch --resolution 1024 --steps 1 --variants "$v" \
    --results-dir /tmp/sdxl1024mem > /tmp/mem1024-$tag.log 2>&1
  rc=$?; w=$(grep "^watch:" /tmp/mem1024-$tag.log)
  echo "memory $v rc=$rc secs=$(( $(date +%s) - s )) $w" >> $log
  if [ $rc -eq 0 ] && ! echo "$w" | grep -q "killed_at_limit=True"; then fits="$fits,$v"; fi
done
echo "rounds at 1024 for: $fits" >> $log
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py --model sdxl-arch --resolution 1024 --steps 1 \
  --rounds 5 --interleave --variants "$fits" --results-dir /tmp/sdxl1024 > /tmp/rounds1024.log 2>&1
echo "rounds1024 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
