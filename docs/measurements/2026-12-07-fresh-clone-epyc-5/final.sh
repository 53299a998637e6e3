#!/bin/bash
# Fresh clones, empty caches, timed: make test (through .ci/run) then make bench. Alone on the machine.
set -u
log=/tmp/chain.log
rm -rf /tmp/freshT /tmp/freshB /tmp/emptyT /tmp/emptyB
git clone -q /work/main /tmp/freshT
echo "== fresh make test start $(date -u +%H:%M:%S) commit $(git -C /tmp/freshT rev-parse --short HEAD)" >> $log
s=$(date +%s)
(cd /tmp/freshT && SDOPT_CACHE=/tmp/emptyT .ci/run > /tmp/s34/freshT.log 2>&1)
echo "fresh make test rc=$? secs=$(( $(date +%s) - s ))" >> $log
git clone -q /work/main /tmp/freshB
echo "== fresh make bench start $(date -u +%H:%M:%S) commit $(git -C /tmp/freshB rev-parse --short HEAD)" >> $log
s=$(date +%s)
(cd /tmp/freshB && SDOPT_CACHE=/tmp/emptyB make bench > /tmp/s34/freshB.log 2>&1)
echo "fresh make bench rc=$? secs=$(( $(date +%s) - s ))" >> $log
echo "FINAL2 DONE $(date -u +%H:%M:%S)" >> $log
