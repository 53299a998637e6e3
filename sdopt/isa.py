"""What the CPU can do, read from /proc/cpuinfo: int8 recipes depend on it.

`SDOPT_ISA` overrides the ISA class that recipe resolution sees, so that one machine can build another's
recipe (and the tests can exercise both resolutions anywhere). It never changes which kernels OpenVINO runs.
"""
import functools
import os
import platform
from pathlib import Path

from .errors import BadArgument

# Flags that decide int8 and bf16 behaviour in OpenVINO's CPU plugin.
INTERESTING = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8",
               "amx_bf16")
OVERRIDE = "SDOPT_ISA"
# ISA class -> whether it has int8 dot-product instructions (int8 multiply-accumulate without saturation).
CLASSES = {"avx2": False, "avx512-vnni": True, "amx": True}


# A model name such as "AMD EPYC" or "Intel(R) Xeon(R) Processor" covers CPUs generations apart; these name one.
IDENTITY = {"vendor_id": "vendor", "cpu family": "family", "model": "model_number", "stepping": "stepping",
            "microcode": "microcode"}


@functools.lru_cache(maxsize=None)
def cpu_info() -> dict:
    """Model name, the ISA flags that matter, and what names the CPU precisely (vendor, family, model number,
    stepping, microcode) as /proc/cpuinfo gives them for the first CPU."""
    flags, model, identity = set(), platform.processor() or platform.machine(), {}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "flags" and not flags:
                flags = set(value.split())
            elif key == "model name":
                model = value.strip()
            elif key in IDENTITY and IDENTITY[key] not in identity:
                identity[IDENTITY[key]] = value.strip()
    return {"model": model, "flags": sorted(f for f in INTERESTING if f in flags), "identity": identity}


def cpu_label(info: dict | None = None) -> str:
    """"AMD EPYC (family 25, model 17, stepping 1)": the model name with what tells one generation from another."""
    info = info or cpu_info()
    identity = info.get("identity") or {}
    parts = [f"{name} {identity[key]}" for key, name in (("family", "family"), ("model_number", "model"),
                                                           ("stepping", "stepping")) if key in identity]
    return f"{info['model']} ({', '.join(parts)})" if parts else info["model"]


def detected_class() -> str:
    """The machine's own ISA class, from its flags."""
    flags = set(cpu_info()["flags"])
    if "amx_int8" in flags:
        return "amx"
    if {"avx512_vnni", "avx_vnni"} & flags:
        return "avx512-vnni"
    return "avx2"


def recipe_class() -> str:
    """The ISA class recipes resolve against: SDOPT_ISA if set, else the machine's own."""
    override = os.environ.get(OVERRIDE, "").strip()
    if not override:
        return detected_class()
    if override not in CLASSES:
        raise BadArgument(f"{OVERRIDE}={override!r} is not an ISA class; use one of {', '.join(CLASSES)} "
                          f"(or unset it to use this machine's: {detected_class()})")
    return override


def has_int8_dot_product() -> bool:
    """VNNI (AVX-512 or AVX) or AMX, as recipe resolution sees it."""
    return CLASSES[recipe_class()]
