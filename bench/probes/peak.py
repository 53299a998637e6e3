"""The machine's measured GEMM peak through OpenVINO's CPU plugin, per precision the variants compute in: FP32,
bf16 (where the CPU has it) and int8 (activations quantized by a FakeQuantize, weights int8, the pattern NNCF
writes, so the plugin runs the same low-precision kernels a quantized UNet does). "How far from the machine" is
then a number: a UNet call's arithmetic at this rate against the call's measured time.

One MatMul of the shape a UNet's biggest linear layers have at 512x512 (4096 tokens x 1280 x 1280): big enough to
keep every core's vector units busy, small enough that the whole probe takes a few seconds.
"""
import statistics
import time

import numpy as np

SHAPE = (4096, 1280, 1280)  # tokens, in features, out features
REPEATS = 5
WARMUP = 2


def _model(precision: str):
    import openvino as ov
    import openvino.opset13 as ops

    tokens, k, n = SHAPE
    rng = np.random.default_rng(0)
    x = ops.parameter([tokens, k], ov.Type.f32, name="x")
    if precision == "int8":
        # symmetric ranges: the plugin's low-precision transformations fold the FakeQuantize into a u8/i8 input
        low, high = ops.constant(np.float32(-4.0)), ops.constant(np.float32(4.0))
        x_in = ops.fake_quantize(x, low, high, low, high, 256)
        w = ops.constant(rng.integers(-127, 128, size=(n, k), dtype=np.int8))
        weights = ops.multiply(ops.convert(w, ov.Type.f32), ops.constant(np.full((n, 1), 0.01, np.float32)))
    else:
        x_in, weights = x, ops.constant(rng.standard_normal((n, k), dtype=np.float32))
    return ov.Model([ops.matmul(x_in, weights, False, True)], [x], f"peak_{precision}")


def precisions(core) -> list[str]:
    """What this CPU computes in: FP32 and int8 everywhere, bf16 where the plugin reports it."""
    capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return ["fp32", "int8"] + (["bf16"] if "BF16" in capabilities else [])


def machine_peak(threads: int) -> dict:
    """Per precision: the MatMul kernel's rate in GFLOP/s (int8: GOP/s), median of REPEATS inferences after
    WARMUP, timed by the plugin's own counters on the MatMul alone (the input's quantization or bf16 reorder is a
    separate node and left out), and the kernel it ran, which says the int8 probe really ran int8. On `threads`
    threads with a latency hint (one stream), as the variants run."""
    import openvino as ov

    core = ov.Core()
    tokens, k, n = SHAPE
    flop = 2 * tokens * k * n
    x = np.random.default_rng(1).uniform(-4, 4, (tokens, k)).astype(np.float32)
    found = {}
    for precision in precisions(core):
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "PERF_COUNT": "YES",
                  "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        request = core.compile_model(_model(precision), "CPU", config).create_infer_request()
        times, kernel = [], None
        for repeat in range(WARMUP + REPEATS):
            request.infer({0: x})
            matmul = next(p for p in request.profiling_info if p.node_type == "FullyConnected")
            kernel = matmul.exec_type
            if repeat >= WARMUP:
                times.append(matmul.real_time.total_seconds())
        found[precision] = {"gflops": round(flop / statistics.median(times) / 1e9, 1), "kernel": kernel}
    return found
