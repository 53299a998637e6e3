#!/bin/bash
set -u
H=$(git -C /work/main rev-parse --short HEAD)
rm -rf /tmp/fresh-tox /tmp/tox-cache && git clone -q /work/main /tmp/fresh-tox && cd /tmp/fresh-tox
for env in ov-2026.0 ov-2026.1 ov-2026.4; do
  s=$(date +%s); SDOPT_CACHE=/tmp/tox-cache /tmp/toxvenv/bin/tox -e $env > /tmp/chain34.$env.log 2>&1; rc=$?; e=$(date +%s)
  echo "tox $env commit=$H rc=$rc secs=$((e-s)) end=$(date -u +%H:%M)" >> /tmp/chain34.log
done
echo done >> /tmp/chain34.log
