"""What optimum-intel's default reshape to dynamic shapes costs: the same static IRs opened through the Python
OpenVINO backend as optimum's default leaves them (dynamic_shapes=True, every IR reshaped to dynamic on loading)
and as sdopt opens them (dynamic_shapes=False), in interleaved rounds (fresh load, compile, warm-up generation,
timed generation), at sd15-arch 512, 3 PNDM steps, guidance 7.5.

Run: .venv/bin/python docs/measurements/2026-12-05-optimum-static-shapes/probe.py ROUNDS VARIANT...
"""
import gc
import json
import statistics
import sys
import time

import sdopt
from bench.probes.runner import Runner
from optimum.intel import OVStableDiffusionPipeline

loader = OVStableDiffusionPipeline.from_pretrained.__func__
MODE = {"dynamic": None}


def from_pretrained(cls, *args, **kwargs):
    if MODE["dynamic"]:
        kwargs["dynamic_shapes"] = True  # optimum's default, which sdopt overrides
    return loader(cls, *args, **kwargs)


OVStableDiffusionPipeline.from_pretrained = classmethod(from_pretrained)
rounds, variants = int(sys.argv[1]), sys.argv[2:]
folders = {v: sdopt.build(v, "sd15-arch", resolution=512) for v in variants}
rows = []
for index in range(-1, rounds):  # round -1: a warm-up pass over every case, not recorded
    for variant in variants:
        for dynamic in (True, False):
            MODE["dynamic"] = dynamic
            runner = Runner(folders[variant])
            runner.generate("a photograph of an astronaut riding a horse", 3, "pndm", 42, 512, 512)
            runner.generate("a photograph of an astronaut riding a horse", 3, "pndm", 42, 512, 512)
            unet = runner.timings.calls["unet"]
            row = {"round": index, "variant": variant, "shapes": "dynamic" if dynamic else "static",
                   "total_s": runner.timings.total, "unet_median_s": statistics.median(unet),
                   "compile_s": runner.compile_s,
                   "compiled_dynamic": runner.variant.pipe.unet.request.inputs[0].get_partial_shape().is_dynamic}
            print(json.dumps(row), flush=True)
            if index >= 0:
                rows.append(row)
            del runner
            gc.collect()  # optimum's pipeline holds cycles: without this every round's models stay resident
