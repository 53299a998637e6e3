"""The environment fingerprint stored with every run: numbers mean nothing without the machine."""
import os
import platform
import socket

from sdopt import library_versions
from sdopt.isa import cpu_info
from sdopt.pipeline import default_threads


def fingerprint() -> dict:
    cpu = cpu_info()
    info = {
        "hostname": socket.gethostname(),
        "cpu_model": cpu["model"],
        "isa": cpu["flags"],
        "logical_cores": os.cpu_count(),
        "threads_used": default_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": library_versions(),
        "ov_precision_hint": "f32",
        "ov_performance_hint": "LATENCY",
    }
    try:
        import openvino as ov
        info["ov_cpu_capabilities"] = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    except Exception as exc:  # the fingerprint must never fail a run
        info["ov_cpu_capabilities"] = f"unavailable: {exc}"
    return info

