"""The root stages: the model saved as a PyTorch FP32 pipeline ("save"), and every component converted to
OpenVINO IR with static shapes ("export")."""
from .. import progress
from ..errors import ModelNotFound
from ..artifacts import link_copy
from ..export import export_openvino, save_torch_fp32, saved_in_fp32
from .base import BuildContext, Method


def torch_fp32(ctx: BuildContext) -> None:
    if ctx.source_in_cache and saved_in_fp32(ctx.source_folder):
        # What loading and saving would write again, weights byte for byte: 14 GB and two minutes at SDXL size.
        with progress.stage("linking the PyTorch FP32 pipeline's files (the source is saved in FP32 already)"):
            link_copy(ctx.source_folder, ctx.out)
        return
    try:
        with progress.stage("loading and saving the PyTorch FP32 pipeline"):
            save_torch_fp32(ctx.source_folder, ctx.out)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelNotFound(f"{ctx.source_folder} could not be loaded as a Stable Diffusion pipeline: {exc}") from exc


def openvino_fp32(ctx: BuildContext) -> None:
    with progress.stage(f"converting every component to OpenVINO IR (static {ctx.size[0]}x{ctx.size[1]})"):
        export_openvino(ctx.base, ctx.out, *ctx.size)


METHODS = {("torch", "none"): Method(torch_fp32, stage="save"),
           ("openvino", "none"): Method(openvino_fp32, stage="export")}
