#!/bin/bash
# One job at a time, in order: make test from a fresh clone (empty cache), then `make bench` on sdxl-arch at 512
# (every variant the SDXL family can build, both OpenVINO runtimes) in /work/main, then sdxl-arch at 1024
# (at1024.sh: what fits), then make bench on shapes from the fresh clone (empty cache). Each step's time and exit
# code go to the log.
set -u
here=$(cd "$(dirname "$0")" && pwd)
log=/tmp/chain.log
commit=$(git -C /work/main rev-parse --short HEAD)
echo "== start $(date -u +%H:%M:%S) commit $commit" >> $log
rm -rf /tmp/fresh1 /tmp/empty1 && git clone -q /work/main /tmp/fresh1
cd /tmp/fresh1 && s=$(date +%s)
SDOPT_CACHE=/tmp/empty1 .ci/run > /tmp/make-test.log 2>&1
echo "make test commit=$commit rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
cd /work/main && s=$(date +%s)
SDOPT_CACHE=/work/sdxlcache /usr/bin/time -v make bench PYTEST_ARGS="--model sdxl-arch --resolution 512 --steps 2 \
  --rounds 2 --quality-prompts 2 --results-dir /tmp/sdxlresults" > /tmp/sdxl-bench.log 2>&1
echo "sdxl make bench commit=$commit rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
"$here"/at1024.sh
echo "at1024 rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
cd /tmp/fresh1 && s=$(date +%s)
SDOPT_CACHE=/tmp/empty2 make bench > /tmp/make-bench.log 2>&1
echo "make bench commit=$commit rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
echo DONE >> $log
