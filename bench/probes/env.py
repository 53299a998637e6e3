"""The environment fingerprint stored with every run: numbers mean nothing without the machine.

Besides what the machine is (CPU, ISA, versions) it says how the machine was while the run ran: load average
and clock at start and end, and the speed of a fixed FP32 GEMM and convolution at start and end, so that two
runs from different days can be judged comparable or not. What each variant's runtime really used (threads,
precision, hint, streams) is read back from the runtime and stored per variant by the suites.
"""
import os
import platform
import socket
import statistics
import time

from sdopt import library_versions
from sdopt.isa import OVERRIDE, cpu_info, cpu_label, detected_class, recipe_class
from sdopt.backends import default_threads

# The probe's fixed work: big enough to run on every core, small enough to take about a second in all.
GEMM_SIZE = 1024
CONV_SHAPE = dict(batch=1, channels=256, size=64, kernel=3)
PROBE_REPEATS = 15
PROBE_WARMUP = 10


# glibc's malloc maps every block above its mmap threshold fresh from the kernel and raises that threshold only
# as it sees large blocks freed, so how fast torch runs depends on what ran before it in the process: at
# sd15-arch 256, torch-fp32's UNet call read 2.0 s before any OpenVINO variant had run and 1.6 s after, and
# 1.5 s from the start with the threshold fixed at glibc's ceiling by MALLOC_MMAP_THRESHOLD_ (read by glibc
# at process start only; mallopt() from Python did not have the effect). make sets it; the fingerprint says.
ALLOCATOR_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "LD_PRELOAD")


def fingerprint(threads: int | None = None) -> dict:
    cpu = cpu_info()
    info = {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_label(cpu),
        "cpu_identity": cpu["identity"],
        "isa": cpu["flags"],
        "isa_class": detected_class(),
        "recipe_isa_class": recipe_class(),  # differs from isa_class only under SDOPT_ISA
        "isa_override": os.environ.get(OVERRIDE) or None,
        "logical_cores": os.cpu_count(),
        "allocator": {name: os.environ.get(name) for name in ALLOCATOR_VARIABLES},
        "threads_used": threads or default_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": library_versions(),
    }
    try:
        import openvino as ov
        info["ov_cpu_capabilities"] = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception as exc:  # the fingerprint must never fail a run
        info["ov_cpu_capabilities"] = f"unavailable: {exc}"
    return info


def machine_state(threads: int | None = None) -> dict:
    """Load, clock and the speed of fixed FP32 work, now: taken at a session's start and end (the latency suite
    adds the GEMM peak per precision to the start's, bench/probes/peak.py)."""
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "loadavg_1m": os.getloadavg()[0],
            "cpu_mhz": cpu_mhz(), **machine_speed(threads)}


def cpu_mhz() -> float | None:
    """The mean current clock over cores as the kernel reports it (static on many VMs, but recorded)."""
    readings = []
    try:
        with open("/proc/cpuinfo") as handle:
            readings = [float(line.split(":")[1]) for line in handle if line.startswith("cpu MHz")]
    except OSError:
        pass
    return round(statistics.mean(readings), 1) if readings else None


def machine_speed(threads: int | None = None) -> dict:
    """GFLOP/s of a 1024^3 FP32 GEMM and of a 3x3, 256-channel 64x64 convolution in torch, median of 15 after
    warm-up, on the run's thread count: fixed work whose rate says how fast the machine is right now."""
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads())
    try:
        generator = torch.Generator().manual_seed(0)
        a, b = (torch.randn(GEMM_SIZE, GEMM_SIZE, generator=generator) for _ in range(2))
        c = CONV_SHAPE
        x = torch.randn(c["batch"], c["channels"], c["size"], c["size"], generator=generator)
        w = torch.randn(c["channels"], c["channels"], c["kernel"], c["kernel"], generator=generator)
        gemm_flop = 2 * GEMM_SIZE ** 3
        conv_flop = 2 * c["batch"] * c["channels"] ** 2 * c["kernel"] ** 2 * c["size"] ** 2
        # The convolution runs through torch's im2col path: oneDNN picks its algorithm per process, which moved the
        # rate of the same convolution by 40% between processes on one machine in one minute.
        with torch.inference_mode(), torch.backends.mkldnn.flags(enabled=False):
            gemm = _median_seconds(lambda: torch.mm(a, b))
            conv = _median_seconds(lambda: torch.nn.functional.conv2d(x, w, padding=1))
    finally:
        torch.set_num_threads(previous)
    return {"gemm_gflops": round(gemm_flop / gemm / 1e9, 1), "conv_gflops": round(conv_flop / conv / 1e9, 1)}


def _median_seconds(work) -> float:
    for _ in range(PROBE_WARMUP):  # the first calls allocate and, for the convolution, build kernels
        work()
    times = []
    for _ in range(PROBE_REPEATS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
