"""Does torch-fp32 run faster once an OpenVINO variant has run in the same process, and why?

Usage: probe.py CACHE [ov|ftz|none]: sd15-arch at 256x256, 2 Euler steps; each line is the median UNet call and
the VAE decode (s) of one fresh load, after one warm-up generation. Run it with and without
MALLOC_MMAP_THRESHOLD_=33554432 in the environment (glibc reads it at process start).
"""
import gc
import statistics
import sys

import torch

import sdopt
from bench.runner import Runner

cache, mode = sdopt.Cache(sys.argv[1]), sys.argv[2]


def timed(name: str) -> list:
    runner = Runner(sdopt.build(name, "sd15-arch", resolution="256", cache=cache))
    runner.generate("a photo", 2, "euler", 42, 256, 256)
    runner.generate("a photo", 2, "euler", 42, 256, 256)
    result = [round(statistics.median(runner.timings.calls["unet"]), 3), round(runner.timings.calls["vae_decode"][0], 3)]
    del runner
    gc.collect()
    return result


print("torch first :", timed("torch-fp32"), flush=True)
print("torch second:", timed("torch-fp32"), flush=True)
if mode == "ov":
    print("ov-fp32     :", timed("ov-fp32"), flush=True)
elif mode == "ftz":
    torch.set_flush_denormal(True)
    print("(denormals flushed to zero from here)", flush=True)
print("torch after :", timed("torch-fp32"), flush=True)
