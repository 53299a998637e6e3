"""Bytes on disk per pipeline component, counted the same way for PyTorch and OpenVINO artifacts."""
from pathlib import Path

# OpenVINO splits the VAE into encoder and decoder folders; both count as the VAE, and SDXL's two text encoders
# as the text encoder.
COMPONENT_OF = {"unet": "unet", "text_encoder": "text_encoder", "text_encoder_2": "text_encoder", "vae": "vae",
                "vae_decoder": "vae", "vae_encoder": "vae"}
WEIGHT_SUFFIXES = (".bin", ".safetensors", ".xml", ".pt", ".ckpt", ".onnx")


def footprint(artifact: Path) -> dict:
    """{"unet": bytes, "text_encoder": bytes, "vae": bytes, "total": bytes} of model files only."""
    sizes = {"unet": 0, "text_encoder": 0, "vae": 0}
    for path in Path(artifact).rglob("*"):
        top = path.relative_to(artifact).parts[0]
        if path.is_file() and top in COMPONENT_OF and path.suffix in WEIGHT_SUFFIXES:
            sizes[COMPONENT_OF[top]] += path.stat().st_size
    sizes["total"] = sum(sizes.values())
    return sizes
