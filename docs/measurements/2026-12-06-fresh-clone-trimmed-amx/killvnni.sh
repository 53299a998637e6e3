#!/bin/bash
# Make room for the SDXL base run: the avx512-vnni override run is left out this time (avx2 runs).
while ! grep -q "tests isa=avx2" /tmp/chain37.log 2>/dev/null; do sleep 2; done
for i in $(seq 1 60); do
  pid=$(pgrep -f "SDOPT_ISA=avx512-vnni" ; pgrep -f "pytest -q -p no:cacheprovider tests/" | head -1)
  p=$(pgrep -f "python -m pytest -q -p no:cacheprovider tests/" | head -1)
  if [ -n "$p" ]; then sleep 3; pkill -TERM -f "python -m pytest -q -p no:cacheprovider tests/"; echo "killed vnni run $p at $(date -u +%H:%M:%S)" >> /tmp/killvnni.log; exit 0; fi
  sleep 1
done
