#!/bin/bash
# After chain.sh: make test then make bench from a fresh clone of main, each with an empty cache, timed.
set -u
log=/tmp/chain.log
while [ "$(grep -c DONE $log)" -lt "$1" ]; do sleep 10; done
commit=$(git -C /work/main rev-parse --short HEAD)
rm -rf /tmp/fresh3 /tmp/empty5 /tmp/empty6 && git clone -q /work/main /tmp/fresh3 && cd /tmp/fresh3
s=$(date +%s)
SDOPT_CACHE=/tmp/empty5 .ci/run > /tmp/make-test3.log 2>&1
echo "make test commit=$commit rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
SDOPT_CACHE=/tmp/empty6 make bench > /tmp/make-bench3.log 2>&1
echo "make bench commit=$commit rc=$? secs=$(( $(date +%s) - s )) end=$(date -u +%H:%M:%S)" >> $log
echo STOPDONE >> $log
