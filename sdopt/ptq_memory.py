"""How much memory post-training int8 of a UNet needs, and the int8 scope that fits this machine: asked before
anything is built, so that an SDXL-size UNet gets the scheme that fits instead of the kernel's OOM killer."""
import json
import os
from functools import lru_cache

# A PTQ build's peak RSS over its UNet's FP32 weights (bytes over bytes), the largest measured
# (docs/measurements/2026-12-06-ptq-memory-amx): full int8 3.9x on sd15-arch (SDXL's was killed at 2.4x of anonymous
# memory alone); it holds the FP32 IR, SmoothQuant's rewritten MatMul weights and a compiled copy for statistics.
# conv-only, unmeasured, is taken as full's: it drops SmoothQuant but still compiles the FP32 model. hybrid
# compresses the MatMul weights to int8 before it calibrates: 1.7x on sdxl-turbo-arch from a cached calibration
# set, 2.04x on sdxl-arch recording its calibration (a batch of two) in the same process
# (docs/measurements/2026-12-06-sdxl-base-projected-amx), rounded up as full's is.
PEAK_OVER_FP32_WEIGHTS = {"all": 3.9, "conv-only": 3.9, "hybrid": 2.1}
# What the operating system and the session's own imports keep beside the build.
RESERVED = 1.5 * 2**30


@lru_cache(maxsize=8)
def _parameters(config_json: str) -> int:
    import torch
    from diffusers import UNet2DConditionModel
    config = {k: v for k, v in json.loads(config_json).items() if not k.startswith("_")}
    with torch.device("meta"):  # shapes only: no memory, no time
        unet = UNet2DConditionModel.from_config(config)
    return sum(p.numel() for p in unet.parameters())


def unet_fp32_bytes(unet_config: dict) -> int:
    return 4 * _parameters(json.dumps(unet_config, sort_keys=True))


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")  # MemTotal


def needed(scope: str, unet_config: dict) -> int:
    return int(PEAK_OVER_FP32_WEIGHTS[scope] * unet_fp32_bytes(unet_config) + RESERVED)


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def fitted_scope(scope: str, unet_config: dict, memory: int | None = None) -> str:
    """`auto`'s CPU choice if it fits, else `hybrid`; an explicit scope stays as given (`refusal` judges it)."""
    memory = memory or machine_memory()
    return "hybrid" if needed(scope, unet_config) > memory else scope


def refusal(scope: str, explicit: bool, unet_config: dict, memory: int | None = None) -> str | None:
    """Why PTQ at `scope` would run out of memory here (None: it fits). `auto` falls back to hybrid first."""
    memory = memory or machine_memory()
    scope = scope if explicit else fitted_scope(scope, unet_config, memory)
    if needed(scope, unet_config) <= memory:
        return None
    size = unet_fp32_bytes(unet_config)
    advice = ("int8_scope=hybrid (int8 weights alone for the MatMuls, optimum-intel's scheme for diffusion models) "
              "needs less" if scope != "hybrid" else "ov-int8-weights needs no calibration")
    return (f"int8 PTQ with int8_scope={scope} of this UNet ({_gib(size)} of FP32 weights) needs about "
            f"{_gib(needed(scope, unet_config))} ({PEAK_OVER_FP32_WEIGHTS[scope]}x the weights, measured); this "
            f"machine has {_gib(memory)}: {advice}")

