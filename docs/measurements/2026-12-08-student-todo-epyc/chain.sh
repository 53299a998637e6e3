#!/bin/bash
# ToDo on the distilled student: quality on shapes (the student trained from an empty cache), speed at sd15-arch
# 512 (run 1), speed again (run 2, its own process, started well after run 1). Usage: chain.sh JOB... (quality,
# speed1, speed2), run in order; every speed job alone on the machine.
set -u
cd /work/main
export HF_HUB_OFFLINE=1
out=/tmp/s36
mkdir -p $out
log=$out/chain.log
run() {  # name, then the pytest arguments
  local name=$1; shift
  echo "== $name start $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)" >> $log
  local s=$(date +%s)
  SDOPT_CACHE=/work/sd15cache .venv/bin/python -m pytest -p no:cacheprovider "$@" --results-dir $out/$name \
    > $out/$name.log 2>&1
  echo "$name rc=$? secs=$(( $(date +%s) - s )) end $(date -u +%H:%M:%S)" >> $log
}
SPEED="--model sd15-arch --steps 20 --schedulers pndm --rounds 2 --interleave"
for job in "$@"; do case $job in
speed1) run speed1 suites/test_latency.py $SPEED \
  --variants "torch-fp32,ov-lcm-fp32[inference_precision=bf16],ov-lcm-todo-fp32[inference_precision=bf16]"
;;
quality) run quality suites/test_quality.py --model shapes --steps 20 --schedulers pndm -k "not unet_prediction_error" \
  --variants "torch-fp32,ov-lcm-fp32[inference_precision=bf16],ov-lcm-todo-fp32[inference_precision=bf16]"
;;
speed2) run speed2 suites/test_latency.py $SPEED \
  --variants "torch-fp32,ov-lcm-fp32[inference_precision=bf16],ov-lcm-todo-fp32[inference_precision=bf16]"
;;
*) echo "unknown job $job" >> $log ;;
esac; done
echo "chain $* DONE $(date -u +%H:%M:%S)" >> $log
