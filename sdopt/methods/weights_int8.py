"""Weight-only int8 of every component with weights (UNet, text encoder, VAE); activations stay float."""
from ..artifacts import link_copy
from ..quantize import compress_weights_int8
from .base import BuildContext, Method


def weights_only(ctx: BuildContext) -> None:
    link_copy(ctx.base, ctx.out)
    compress_weights_int8(ctx.out)


METHODS = {("openvino", "weights-only"): Method(weights_only, stage="weights-int8")}
