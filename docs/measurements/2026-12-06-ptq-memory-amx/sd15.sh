#!/bin/bash
cd /work/main
export HF_HUB_OFFLINE=1 SDOPT_CACHE=/tmp/ptqmem/cache MALLOC_MMAP_THRESHOLD_=33554432
for v in ov-fp32 ov-int8-ptq; do
  /usr/bin/time -v .venv/bin/python -m sdopt build $v --model sd15-arch --resolution 512 > /tmp/ptqmem/sd15-$v.out 2> /tmp/ptqmem/sd15-$v.err
  echo "$v rc=$?" >> /tmp/ptqmem/sd15.log
  grep -E "Maximum resident|Elapsed" /tmp/ptqmem/sd15-$v.err >> /tmp/ptqmem/sd15.log
done
