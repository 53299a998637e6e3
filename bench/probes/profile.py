"""Where a UNet call spends its time: the runtime's per-layer counters summed by op type and kernel.

The kernel name (OpenVINO's exec_type, e.g. `jit_avx2_I8` against `brgconv_avx2_f32`) shows whether int8
kernels ran.
"""
import pandas as pd

from sdopt.backends import capture_unet_inputs


def record_inputs(variant) -> dict:
    """One UNet call's inputs, captured from a 1-step generation."""
    height, width = variant.resolution
    with capture_unet_inputs(variant) as calls:
        variant.generate("profile", 1, "euler", 0, height, width)
    return calls[0]


def unet_profile(variant, repeats: int = 3) -> pd.DataFrame:
    """Milliseconds per UNet call by (node type, kernel), averaged over `repeats` calls."""
    if not variant.has_layer_counters:
        raise ValueError(f"profiling needs a runtime with per-layer counters, {variant.name} runs on "
                         f"{variant.runtime}")
    frame = pd.DataFrame(variant.layer_counters(record_inputs(variant), repeats))
    table = frame.groupby(["node_type", "exec_type"], as_index=False).agg(ms=("ms", "sum"), layers=("ms", "size"))
    table["ms"] /= repeats
    table["layers"] //= repeats
    table["share"] = table["ms"] / table["ms"].sum()
    return table.sort_values("ms", ascending=False, ignore_index=True)
