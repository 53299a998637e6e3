#!/usr/bin/env bash
# The reference's four variants plus the ToMe headline on sd15-arch at 512x512, 3 Euler steps, 5 interleaved
# rounds after a warm-up pass, footprints alongside. Usage: run.sh OUT; SDOPT_CACHE names the variant cache.
set -euo pipefail
out=${1:?output folder}
root=$(cd "$(dirname "$0")/../../.." && pwd)
md4='ov-tome-int8-ptq[tome_ratio=0.75,tome_mlp=true,tome_max_downsample=4,tome_crossattn=true]'
cd "$root"
MALLOC_MMAP_THRESHOLD_=33554432 HF_HUB_OFFLINE=1 .venv/bin/python -m pytest suites/test_footprint.py \
    suites/test_latency.py --model sd15-arch --steps 3 --schedulers euler --rounds 5 --interleave \
    --variants "torch-fp32,ov-fp32,ov-int8-ptq,$md4" --results-dir "$out" --benchmark-json "$out/benchmark.json"
