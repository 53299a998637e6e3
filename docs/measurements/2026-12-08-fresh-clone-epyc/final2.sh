#!/bin/bash
# make test again from a fresh clone of the fixed tree, alone, after make bench.
set -u
log=/tmp/chain.log
while ! grep -q "final DONE" $log; do sleep 5; done
rm -rf /tmp/freshT2 /tmp/emptyT2
git clone -q /work/main /tmp/freshT2
cd /tmp/freshT2
echo "== make test 2 (fresh clone $(git rev-parse --short HEAD)) start $(date -u +%H:%M:%S)" >> $log
s=$(date +%s)
SDOPT_CACHE=/tmp/emptyT2 .ci/run > /tmp/s35/fresh-test2.log 2>&1
echo "make test 2 rc=$? secs=$(( $(date +%s) - s ))" >> $log
