"""Post-training int8 with NNCF on OpenVINO IR: full (weights and activations) for the UNet, and weight-only."""
from pathlib import Path

from . import int8_policy, progress
from .ir import component_irs, replace_ir


def quantize_unet(model, samples: list, recipe):
    """The UNet IR with int8 weights and activations, calibrated on recorded UNet inputs."""
    timestep_shape = tuple(model.input("timestep").get_partial_shape().to_shape())
    samples = [s | {"timestep": s["timestep"].reshape(timestep_shape)} for s in samples]
    return int8_policy.quantize(model, samples, recipe, graph="openvino")


def quantize_vae_decoder(model, samples: list, recipe):
    """The VAE decoder IR with int8 weights and activations, calibrated on final latents: a convolutional network,
    so NNCF's default model type (no transformer-specific patterns)."""
    return int8_policy.quantize(model, samples, recipe, graph="openvino", model_type=None)


def compress_weights_int8(folder: Path) -> None:
    import nncf
    import openvino as ov
    core = ov.Core()
    for path in component_irs(folder):
        with progress.stage(f"int8 weight compression of {path.parent.name}"):
            model = nncf.compress_weights(core.read_model(path), mode=nncf.CompressWeightsMode.INT8_ASYM)
            replace_ir(model, path)
