#!/bin/bash
# One job at a time: wait for the 512 rounds (rounds512.sh, started first), then at1024.sh, then make bench on
# tiny-sdxl (every variant of `all` now that ToMe/ToDo reach SDXL) from /work/main with its own empty cache.
set -u
here=$(cd "$(dirname "$0")" && pwd)
while pgrep -f "results-dir /tmp/sdxl5" > /dev/null; do sleep 10; done
"$here/at1024.sh"
cd /work/main && s=$(date +%s)
SDOPT_CACHE=/tmp/tinysdxlcache make bench PYTEST_ARGS="--model tiny-sdxl --results-dir /tmp/tinysdxl" \
  > /tmp/tinysdxl.log 2>&1
echo "tiny-sdxl make bench rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> /tmp/chain.log
echo DONE >> /tmp/chain.log
