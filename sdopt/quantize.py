"""Post-training int8 with NNCF on OpenVINO IR: full (weights and activations) for the UNet, and weight-only."""
from pathlib import Path

from . import int8_policy, progress
from .ir import replace_ir


def quantize_unet(model, samples: list, recipe):
    """The UNet IR with int8 weights and activations, calibrated on recorded UNet inputs."""
    timestep_shape = tuple(model.input("timestep").get_partial_shape().to_shape())
    samples = [s | {"timestep": s["timestep"].reshape(timestep_shape)} for s in samples]
    return int8_policy.quantize(model, samples, recipe, graph="openvino")


def quantize_vae_decoder(model, samples: list, recipe):
    """The VAE decoder IR with int8 weights and activations, calibrated on final latents: a convolutional network,
    so NNCF's default model type (no transformer-specific patterns)."""
    return int8_policy.quantize(model, samples, recipe, graph="openvino", model_type=None)


def compress_weights(source: Path, target: Path, bits: str) -> None:
    """The IR at `source` with weight-only int8 (every layer with weights), or int4 (`bits="int4"`: 4-bit groups
    of 128 where NNCF's int4 applies, the linear layers; int8 where it does not: embeddings, convolutions), saved
    at `target` (which may be `source`). Data-free: no calibration."""
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedCompressionParameters
    if bits == "int8":
        settings = {"mode": nncf.CompressWeightsMode.INT8_ASYM}
    else:  # ADJUST: a layer whose channels 128 does not divide (small models) takes a smaller group, not an error
        settings = {"mode": nncf.CompressWeightsMode.INT4_ASYM, "group_size": 128, "ratio": 1.0,
                    "advanced_parameters": AdvancedCompressionParameters(
                        group_size_fallback_mode=nncf.GroupSizeFallbackMode.ADJUST)}
    with progress.stage(f"{bits} weight compression of {source.parent.name}"):
        replace_ir(nncf.compress_weights(ov.Core().read_model(source), **settings), target)
