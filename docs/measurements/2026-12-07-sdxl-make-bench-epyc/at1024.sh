#!/bin/bash
# sdxl-arch at 1024x1024 (SDXL's native size), base form: what fits in 24 GiB. The OpenVINO builds run under the
# memory watchdog (a static 1024 export traces 4x the activations of 512); then the memory suite's probe (a fresh
# process: load, one 1-step generation at a batch of two, peak RSS private and file-backed) per variant. ov-fp32
# is built (the int8-weights variant starts from it) but not probed: at 512 it already peaks at 96-97% of the
# machine, and a probe killed by the kernel's OOM killer could take more than itself.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/work/sdxlcache MALLOC_MMAP_THRESHOLD_=33554432
log=/tmp/at1024.log
echo "== start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
for v in torch-fp32 ov-fp32 ov-int8-weights; do
  s=$(date +%s)
  .venv/bin/python "$here/../2026-12-06-ptq-memory-amx/watch.py" 21.5 /usr/bin/time -v .venv/bin/python -m sdopt build $v \
    --model sdxl-arch --resolution 1024 > /tmp/build1024-$v.out 2> /tmp/build1024-$v.err
  echo "build $v rc=$? secs=$(( $(date +%s) - s ))" >> $log
  grep "^watch:" /tmp/build1024-$v.out >> $log
  grep -E "Maximum resident|Exit status" /tmp/build1024-$v.err >> $log
done
s=$(date +%s)
.venv/bin/python -m pytest -p no:cacheprovider suites/test_memory.py suites/test_footprint.py --model sdxl-arch \
  --resolution 1024 --steps 1 --variants torch-fp32,ov-int8-weights --runtimes openvino,genai \
  --results-dir /tmp/sdxlresults1024 > /tmp/at1024-suites.log 2>&1
echo "suites rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
