#!/bin/bash
# Fresh clones with empty caches, alone on the machine: make test (CI's command) then make bench, timed.
set -u
log=/tmp/chain.log
while ! grep -q "speed3 DONE" $log; do sleep 10; done
cd /work/main && git pull -q /tmp/dev main && echo "synced /tmp/dev into /work/main at $(git rev-parse --short HEAD)" >> $log
rm -rf /tmp/freshT /tmp/freshB /tmp/emptyT /tmp/emptyB
git clone -q /work/main /tmp/freshT
cd /tmp/freshT
echo "== make test (fresh clone $(git rev-parse --short HEAD)) start $(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
SDOPT_CACHE=/tmp/emptyT .ci/run > /tmp/s35/fresh-test.log 2>&1
echo "make test rc=$? secs=$(( $(date +%s) - s ))" >> $log
git clone -q /work/main /tmp/freshB
cd /tmp/freshB
echo "== make bench (fresh clone) start $(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
SDOPT_CACHE=/tmp/emptyB make bench > /tmp/s35/fresh-bench.log 2>&1
echo "make bench rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "final DONE $(date -u +%H:%M:%S)" >> $log
