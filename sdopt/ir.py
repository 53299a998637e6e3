"""OpenVINO IR files inside an artifact folder."""
from pathlib import Path

IR = "openvino_model.xml"


def replace_ir(model, path: Path) -> None:
    """Save over an IR whose files may be hard links into the base artifact: unlink first, never truncate."""
    import openvino as ov
    for stale in (path, path.with_suffix(".bin")):
        stale.unlink(missing_ok=True)
    ov.save_model(model, path, compress_to_fp16=False)


def component_irs(folder: Path) -> list[Path]:
    """Every model component's IR in an artifact (UNet, each text encoder, the VAE's halves, a step-caching graph):
    read from the folder, so a family with a second or third text encoder is covered without a list to extend."""
    return sorted(folder.glob(f"*/{IR}"))
