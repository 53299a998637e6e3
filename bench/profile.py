"""Where OpenVINO spends a UNet call: per-layer performance counters summed by op type and kernel.

The kernel name (exec_type, e.g. `jit_avx2_I8` against `brgconv_avx2_f32`) shows whether int8 kernels ran.
"""
import pandas as pd

from sdopt.pipeline import capture_unet_inputs


def record_inputs(variant) -> dict:
    """One UNet call's inputs, captured from a 1-step generation."""
    height, width = variant.resolution
    with capture_unet_inputs(variant) as calls:
        variant.generate("profile", 1, "euler", 0, height, width)
    return calls[0]


def unet_profile(variant, repeats: int = 3) -> pd.DataFrame:
    """Milliseconds per UNet call by (node type, kernel), averaged over `repeats` calls."""
    if variant.runtime != "openvino":
        raise ValueError(f"profiling needs an OpenVINO variant, {variant.name} runs on {variant.runtime}")
    inputs = record_inputs(variant)
    request = variant.pipe.unet.request.create_infer_request()
    rows = []
    for _ in range(repeats):
        request.infer(inputs)
        rows += [{"node_type": p.node_type, "exec_type": p.exec_type, "ms": p.real_time.total_seconds() * 1e3}
                 for p in request.get_profiling_info() if p.status.name == "EXECUTED"]
    frame = pd.DataFrame(rows)
    table = frame.groupby(["node_type", "exec_type"], as_index=False).agg(ms=("ms", "sum"), layers=("ms", "size"))
    table["ms"] /= repeats
    table["layers"] //= repeats
    table["share"] = table["ms"] / table["ms"].sum()
    return table.sort_values("ms", ascending=False, ignore_index=True)
