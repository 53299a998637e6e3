#!/bin/bash
# After the speed run: the fresh-clone checks (the structure-only students' quality run was dropped for time).
until grep -q "^lcm2 DONE" /tmp/chain.log; do sleep 5; done
bash /tmp/lcm-scripts/final.sh
