"""OpenVINO IR files inside an artifact folder."""
from pathlib import Path

IR = "openvino_model.xml"
COMPONENTS_WITH_WEIGHTS = ("unet", "text_encoder", "vae_decoder", "vae_encoder")


def replace_ir(model, path: Path) -> None:
    """Save over an IR whose files may be hard links into the base artifact: unlink first, never truncate."""
    import openvino as ov
    for stale in (path, path.with_suffix(".bin")):
        stale.unlink(missing_ok=True)
    ov.save_model(model, path, compress_to_fp16=False)
