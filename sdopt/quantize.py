"""Post-training int8 with NNCF: full (weights and activations) for the UNet, and weight-only.

Both operate on OpenVINO IR in an artifact folder copied from the FP32 variant.
"""
import logging
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import progress
from .recipes import Recipe

IR = "openvino_model.xml"
COMPONENTS_WITH_WEIGHTS = ("unet", "text_encoder", "vae_decoder", "vae_encoder")


def record_unet_inputs(variant, prompts, steps: int, height: int, width: int, scheduler: str = "pndm"):
    """Run the pipeline and keep every UNet call's inputs: the calibration set NNCF sees."""
    from .pipeline import capture_unet_inputs
    started = time.perf_counter()
    with capture_unet_inputs(variant) as calls:
        for index, prompt in enumerate(prompts):
            variant.generate(prompt, steps, scheduler, seed=index, height=height, width=width)
            progress.count("calibration prompts", index + 1, len(prompts), started)
    return [{name: call[name].astype(np.float32) for name in ("sample", "encoder_hidden_states")}
            | {"timestep": call["timestep"].astype(np.float32).reshape(-1)[:1]} for call in calls]


@contextmanager
def quiet_nncf():
    """NNCF at WARNING: one INFO line per ignored op would bury the build's progress."""
    import nncf
    previous = nncf.common.logging.nncf_logger.level
    nncf.set_log_level(logging.WARNING)
    try:
        yield
    finally:
        nncf.set_log_level(previous)


def quantize_unet(model, samples: list, recipe: Recipe):
    import nncf
    from nncf.quantization.advanced_parameters import (AdvancedQuantizationParameters,
                                                       AdvancedSmoothQuantParameters, OverflowFix)

    timestep_shape = tuple(model.input("timestep").get_partial_shape().to_shape())
    samples = [s | {"timestep": s["timestep"].reshape(timestep_shape)} for s in samples]
    advanced = AdvancedQuantizationParameters(overflow_fix=OverflowFix(recipe.overflow_fix))
    scope = None
    if recipe.int8_scope == "conv-only":
        # SDPA too: NNCF quantizes its query and key inputs, and OpenVINO then splits the fused attention
        # into an int8 MatMul, a float Softmax and a MatMul, which is slower on AVX2.
        scope = nncf.IgnoredScope(types=["MatMul", "ScaledDotProductAttention"])
        # SmoothQuant only serves int8 MatMuls; on float ones it would just add a Multiply per input.
        advanced.smooth_quant_alphas = AdvancedSmoothQuantParameters(matmul=-1)
    with quiet_nncf():
        return nncf.quantize(model, nncf.Dataset(samples), model_type=nncf.ModelType.TRANSFORMER,
                             subset_size=len(samples), ignored_scope=scope, advanced_parameters=advanced)


def compress_weights_int8(folder: Path) -> None:
    import nncf
    import openvino as ov
    core = ov.Core()
    for component in COMPONENTS_WITH_WEIGHTS:
        path = folder / component / IR
        if path.exists():
            with progress.stage(f"int8 weight compression of {component}"):
                model = nncf.compress_weights(core.read_model(path), mode=nncf.CompressWeightsMode.INT8_ASYM)
                replace_ir(model, path)


def replace_ir(model, path: Path) -> None:
    """Save over an IR whose files may be hard links into the base artifact: unlink first, never truncate."""
    import openvino as ov
    for stale in (path, path.with_suffix(".bin")):
        stale.unlink(missing_ok=True)
    ov.save_model(model, path, compress_to_fp16=False)


def perturb_weights(model, relative_std: float, seed: int = 0):
    """Add Gaussian noise to every float weight tensor (a deliberately damaged control variant)."""
    from openvino import op
    rng = np.random.default_rng(seed)
    for node in list(model.get_ops()):
        if node.get_type_name() != "Constant" or node.get_output_element_type(0).get_type_name() != "f32":
            continue
        weights = node.get_data()
        if weights.size < 256:  # shapes, scalars and small biases are structure, not weights
            continue
        noisy = weights + rng.standard_normal(weights.shape).astype(np.float32) * weights.std() * relative_std
        node.output(0).replace(op.Constant(noisy.astype(np.float32)).output(0))
    return model
