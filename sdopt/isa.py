"""What the CPU can do, read from /proc/cpuinfo: int8 recipes depend on it."""
import functools
import platform
from pathlib import Path

# Flags that decide int8 and bf16 behaviour in OpenVINO's CPU plugin.
INTERESTING = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8",
               "amx_bf16")


@functools.lru_cache(maxsize=None)
def cpu_info() -> dict:
    flags, model = set(), platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "flags" and not flags:
                flags = set(value.split())
            elif key == "model name":
                model = value.strip()
    return {"model": model, "flags": sorted(f for f in INTERESTING if f in flags)}


def has_int8_dot_product() -> bool:
    """VNNI (AVX-512 or AVX) or AMX: int8 multiply-accumulate without saturating intermediates."""
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(cpu_info()["flags"]))


def isa_summary() -> str:
    return "+".join(cpu_info()["flags"]) or "unknown"
