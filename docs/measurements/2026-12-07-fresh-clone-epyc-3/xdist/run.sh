#!/bin/bash
cd /tmp/dev
export HF_HUB_OFFLINE=1 MALLOC_MMAP_THRESHOLD_=33554432 SDOPT_CACHE=/tmp/xdcache SDOPT_TEST_CACHE=/tmp/xdcache PYTHONPATH=/tmp/dev
s=$(date +%s)
.venv/bin/python -m pytest tests/ -n 2 --dist loadfile -m "not alone" --durations=40 -p no:cacheprovider > /tmp/xd1.log 2>&1
echo "phase1 rc=$? secs=$(( $(date +%s) - s ))" >> /tmp/xd.log
s=$(date +%s)
.venv/bin/python -m pytest tests/ -m alone --durations=10 -p no:cacheprovider > /tmp/xd2.log 2>&1
echo "phase2 rc=$? secs=$(( $(date +%s) - s ))" >> /tmp/xd.log
