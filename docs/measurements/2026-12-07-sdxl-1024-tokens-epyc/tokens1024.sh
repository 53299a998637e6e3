#!/bin/bash
# sdxl-arch at 1024, base form: ToMe and ToDo (default reach) on hybrid int8 PTQ, the token variants the 512 runs
# could not tell from plain PTQ; at 1024 their level holds 4x the tokens. Disk holds one more 13.9 GB FP32 IR at a
# time, so each token variant's FP32 base is built, quantized from, then deleted (the int8 folder stands alone).
# Builds and memory probes under the memory watchdog, then 5 interleaved rounds of 1 step beside torch-fp32 and
# plain hybrid PTQ, the token variants on both runtimes. Alone on the machine.
set -u
here=$(cd "$(dirname "$0")" && pwd)
watch="$here/../2026-12-06-ptq-memory-amx/watch.py"
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sdxlcache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/chain.log
echo "== tokens1024 start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
for method in tome todo; do
  v=ov-$method-int8-ptq
  df -h /work | tail -1 >> $log
  s=$(date +%s)
  .venv/bin/python "$watch" 21.5 /usr/bin/time -v .venv/bin/python -m sdopt build $v \
    --model sdxl-arch --resolution 1024 > /tmp/build1024-$v.out 2> /tmp/build1024-$v.err
  echo "build $v rc=$? secs=$(( $(date +%s) - s ))" >> $log
  grep "^watch:" /tmp/build1024-$v.out >> $log
  grep -E "Maximum resident|Exit status|recording|quantization" /tmp/build1024-$v.err >> $log
  rm -rf /work/sdxlcache/variants/ov-$method-fp32-sdxl-arch-*
  s=$(date +%s)
  .venv/bin/python "$watch" 21.5 .venv/bin/python -m pytest -p no:cacheprovider suites/test_memory.py \
    suites/test_footprint.py --model sdxl-arch --resolution 1024 --steps 1 --variants "$v" \
    --results-dir /tmp/sdxl1024tokmem > /tmp/mem1024-$v.log 2>&1
  echo "memory $v rc=$? secs=$(( $(date +%s) - s )) $(grep '^watch:' /tmp/mem1024-$v.log)" >> $log
done
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_latency.py --model sdxl-arch --resolution 1024 --steps 1 \
  --rounds 5 --interleave \
  --variants "torch-fp32,ov-int8-ptq,ov-tome-int8-ptq,ov-todo-int8-ptq,ov-tome-int8-ptq[runtime=genai],ov-todo-int8-ptq[runtime=genai]" \
  --results-dir /tmp/sdxl1024tok > /tmp/rounds1024tok.log 2>&1
echo "rounds1024tok rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
echo "tokens1024 DONE $(date -u +%H:%M:%S)" >> $log
