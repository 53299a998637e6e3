"""Weight-only int8 of every component with weights (UNet, text encoders, VAE); activations stay float."""
from ..artifacts import link_copy
from ..quantize import compress_weights_int8
from .base import BuildContext, Method


def weights_only(ctx: BuildContext) -> None:
    link_copy(ctx.base, ctx.out)
    compress_weights_int8(ctx.out)


# 2: every component IR in the folder (SDXL's second text encoder was left in FP32).
METHODS = {("openvino", "weights-only"): Method(weights_only, version=2, stage="weights-int8")}
