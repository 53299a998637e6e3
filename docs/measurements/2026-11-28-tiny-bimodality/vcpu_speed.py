"""Each vCPU's speed over time: a single-threaded FP32 GEMM pinned to each CPU in turn, and both together.

If the two-level speed of the tiny UNet comes from the machine (a vCPU shared with other work on the host),
this shows it without OpenVINO, the pipeline or the harness: one CPU slower than the other for a while.
"""
import os
import sys
import time

from bench.env import machine_speed

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 120
started = time.time()
cpus = sorted(os.sched_getaffinity(0))
while time.time() - started < seconds:
    row = []
    for cpu in cpus:
        os.sched_setaffinity(0, {cpu})
        row.append(f"cpu{cpu} {machine_speed(1)['gemm_gflops']:6.1f}")
    os.sched_setaffinity(0, set(cpus))
    row.append(f"both {machine_speed(len(cpus))['gemm_gflops']:6.1f}")
    print(f"{time.time() - started:6.1f}s  " + "  ".join(row), flush=True)
