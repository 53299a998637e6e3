"""Why the tiny OpenVINO UNet call is bimodal between processes: one fresh process per line.

Usage: probe.py CACHE MODE [ENV...]; MODE is one of
  pipeline   the optimum pipeline under bench's Runner, 8 Euler steps per generation for 6 s: UNet call median
             per generation, printed as the median and the share of generations in the slow mode (> 7.5 ms)
  trace      the same, printing every generation's UNet median (the mode switching within one process)
  unet-only  the UNet IR alone, compiled with the harness's settings, inferred back to back
  parts      TE x2, UNet x8, VAE: the three compiled IRs alternating as in a generation, no Python pipeline
Environment: THREADS (INFERENCE_NUM_THREADS), PINNING=NO, TORCH_THREADS.
"""
import glob
import os
import statistics
import sys
import time

import numpy as np

cache, mode = sys.argv[1], sys.argv[2]
threads = int(os.environ.get("THREADS", "0")) or None
if os.environ.get("TORCH_THREADS"):
    import torch
    torch.set_num_threads(int(os.environ["TORCH_THREADS"]))
import sdopt  # noqa: E402
import sdopt.pipeline as pipeline  # noqa: E402

settings = pipeline.ov_config
extra = {"ENABLE_CPU_PINNING": "NO"} if os.environ.get("PINNING") == "NO" else {}
pipeline.ov_config = lambda n, perf_counters=False: settings(n, perf_counters) | extra
folder = sdopt.build("ov-fp32", "tiny", cache=sdopt.Cache(cache))


def summary(values):
    return f"median {statistics.median(values):.2f} ms, slow {sum(v > 7.5 for v in values)}/{len(values)}"


if mode in ("pipeline", "trace"):
    from bench.runner import Runner
    runner = Runner(folder, threads)
    values, started = [], time.time()
    while time.time() - started < 6:
        runner.generate("a cartoon bird", 8, "euler", 0, 128, 128)
        values.append(1e3 * statistics.median(runner.timings.calls["unet"]))
    print(summary(values) if mode == "pipeline" else " ".join(f"{v:.1f}" for v in values))
else:
    import openvino as ov
    core = ov.Core()
    config = pipeline.ov_config(threads or pipeline.default_threads())
    names = ("unet",) if mode == "unet-only" else ("text_encoder", "unet", "vae_decoder")
    requests = {n: core.compile_model(folder / n / "openvino_model.xml", "CPU", config).create_infer_request()
                for n in names}
    rng = np.random.default_rng(0)
    inputs = {n: {p.get_any_name(): (np.ones(tuple(p.get_partial_shape().to_shape()), np.int64)
                                     if p.get_element_type().get_type_name().startswith("i") else
                                     rng.standard_normal(tuple(p.get_partial_shape().to_shape())).astype(np.float32))
                  for p in r.model_inputs} for n, r in requests.items()}
    values, started = [], time.time()
    while time.time() - started < 6:
        if "text_encoder" in requests:
            requests["text_encoder"].infer(inputs["text_encoder"])
            requests["text_encoder"].infer(inputs["text_encoder"])
        calls = []
        for _ in range(8):
            begun = time.perf_counter()
            requests["unet"].infer(inputs["unet"])
            calls.append(1e3 * (time.perf_counter() - begun))
        if "vae_decoder" in requests:
            requests["vae_decoder"].infer(inputs["vae_decoder"])
        values.append(statistics.median(calls))
    print(summary(values))
