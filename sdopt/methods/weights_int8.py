"""Weight-only int8 of every component with weights (UNet, text encoders, VAE); activations stay float. With
`text_vae_weights=int4` the text encoders and VAE take int4 where it applies instead (from the FP32 IR, once)."""
from ..artifacts import link_copy
from ..ir import component_irs
from ..quantize import compress_weights
from .base import BuildContext, Method
from .text_vae_weights import compressed_parts


def weights_only(ctx: BuildContext) -> None:
    link_copy(ctx.base, ctx.out)
    int4 = set(compressed_parts(ctx.out, ctx.recipe)) if ctx.recipe.text_vae_weights == "int4" else set()
    for path in component_irs(ctx.out):
        compress_weights(path, path, "int4" if path in int4 else "int8")


# 2: every component IR in the folder (SDXL's second text encoder was left in FP32).
METHODS = {("openvino", "weights-only"): Method(weights_only, version=2, stage="weights-int8",
                                                reads=("text_vae_weights",))}
