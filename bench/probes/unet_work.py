"""A UNet call's arithmetic, and what it would take at the machine's measured peak (bench/probes/peak.py): the
number behind "how far from the limit" a variant's UNet call is.

Counted two ways, which tests hold against each other: from an OpenVINO IR's static shapes (what the variant
really computes: its batch, merged or downsampled tokens, a step cache's shallow graph is another IR), and for
PyTorch variants by torch's FlopCounterMode on a copy of the UNet on the meta device (no arithmetic runs) with
one real call's input shapes. Multiply-adds of convolutions, matrix products and attention count 2 FLOPs each;
normalizations, activations and the softmax are left out, as they are in every published GFLOP figure of a UNet.
"""
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from sdopt.ir import IR


def ir_gflop(xml: Path) -> float:
    """GFLOP of one inference of a static-shaped IR."""
    import openvino as ov

    total = 0
    for op in ov.Core().read_model(xml).get_ordered_ops():
        kind = op.get_type_name()
        if kind not in ("Convolution", "GroupConvolution", "MatMul", "ScaledDotProductAttention"):
            continue
        if op.get_output_partial_shape(0).is_dynamic:
            raise ValueError(f"{xml}: {op.get_friendly_name()} has a dynamic shape; the arithmetic of a call is "
                             f"counted on a static-shaped IR (the variants export their UNets static)")
        shape = lambda port: list(op.get_input_partial_shape(port).to_shape())
        out = int(np.prod(list(op.get_output_partial_shape(0).to_shape())))
        if kind == "Convolution":  # weights [out, in, *kernel]
            total += 2 * out * int(np.prod(shape(1)[1:]))
        elif kind == "GroupConvolution":  # weights [groups, out/groups, in/groups, *kernel]
            total += 2 * out * int(np.prod(shape(1)[2:]))
        elif kind == "MatMul":
            a = shape(0)
            transpose_a = op.get_attributes()["transpose_a"]
            total += 2 * out * (a[-2] if transpose_a and len(a) > 1 else a[-1])
        else:  # softmax(q k^T) v: q [.., L, E], k [.., S, E], v [.., S, Ev]
            q, k, v = shape(0), shape(1), shape(2)
            total += 2 * int(np.prod(q[:-1])) * k[-2] * (q[-1] + v[-1])
    return total / 1e9


def torch_gflop(unet, call: dict) -> float:
    """GFLOP of `unet` on inputs shaped as `call` (numpy arrays by name, as capture_unet_inputs records them),
    counted on a meta-device copy."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        copy = type(unet).from_config(unet.config)
        meta = {name: torch.empty(np.shape(value), dtype=_dtype(value)) for name, value in call.items()
                if name != "output"}
    added = {name: meta.pop(name) for name in ("text_embeds", "time_ids") if name in meta}
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        copy(**meta, **({"added_cond_kwargs": added} if added else {}))
    return counter.get_total_flops() / 1e9


def _dtype(value):
    import torch
    return torch.int64 if np.issubdtype(np.asarray(value).dtype, np.integer) else torch.float32


def openvino_unet_ir(variant) -> Path | None:
    """The UNet IR an OpenVINO or GenAI variant compiles (None for PyTorch)."""
    path = Path(variant.folder) / "unet" / IR
    return path if variant.runtime != "torch" and path.exists() else None


def compute_precision(variant) -> str:
    """The precision the UNet's products run in, against which peak it is held: int8 where its activations are
    quantized (FakeQuantize in the IR; weight-only int8 computes in float), else the float precision the runtime
    was told (bf16 or f32), FP32 for PyTorch."""
    ir = openvino_unet_ir(variant)
    if ir is None:
        return "fp32"
    if "FakeQuantize" in ir.read_text():
        return "int8"
    return "bf16" if str(variant.config.get("INFERENCE_PRECISION_HINT")) == "bf16" else "fp32"


def at_peak_ms(gflop: float, peak: dict, precision: str) -> float | None:
    """Milliseconds the call's arithmetic takes at the machine's measured peak for `precision` (None if this
    machine has no such peak measured)."""
    rate = (peak or {}).get(precision, {}).get("gflops")
    return 1e3 * gflop / rate if rate else None


@contextmanager
def counted(variant, into: dict, key):
    """Around one generation: `into[key]` gets the GFLOP of one full UNet call of `variant` (from its IR, or
    from the first call's input shapes on a PyTorch UNet), unless counted already. A PyTorch UNet that a stage
    patches on opening (token merging) is counted as its saved model: the arithmetic it was built from."""
    from sdopt.backends.base import capture_unet_inputs

    ir = None if key in into else openvino_unet_ir(variant)
    if key in into or ir is not None:
        yield
        if ir is not None:
            into[key] = ir_gflop(ir)
        return
    with capture_unet_inputs(variant) as calls:
        yield
    into[key] = torch_gflop(variant.pipe.unet, calls[0])
