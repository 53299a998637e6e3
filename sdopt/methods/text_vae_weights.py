"""Weight-only int8 (or int4) of all but the denoiser: a layer over any OpenVINO variant (`text_vae_weights=int8`)
that compresses the text encoders' and the VAE's weights and leaves the UNet as that variant built it. The
weights-only method, which compresses them itself, reads the option instead (`ov-int8-weights[text_vae_weights=
int4]`: int4 from the FP32 IR, not over its own int8).

Why a layer and not a recipe: an int8 UNet (PTQ, QAT, a student) leaves the FP32 text encoder and VAE as most of
what is left on disk (at SD 1.5 shapes, 0.8 of the 1.7 GB of `ov-int8-ptq`), so footprint needs them compressed
on top of whichever UNet a variant has. Weights only: the activations stay float, so the decode is spared the
grain of the int8-activations decoder (`vae_decoder=int8`, which fails FID); a decoder already quantized by that
layer is left as it is.

`int4`: 4-bit groups of 128 where NNCF's int4 applies (the linear layers: the text encoders' attention and MLPs,
the VAE's attention), int8 where it does not (token embeddings, convolutions). int8 alone stops at the 8-bit
floor: an int8 UNet with int8 text encoder and VAE is 0.2515x of FP32 at SD 1.5 shapes (scales, biases and the
graph on top of a quarter), so going below a quarter needs fewer bits somewhere; the text encoder is where the
linear layers are.
"""
from dataclasses import dataclass

from ..artifacts import link_copy
from ..errors import BadArgument
from ..ir import component_irs
from ..quantize import compress_weights
from .base import BuildContext, Method, StageOptions

LAYER = "text-vae-weights"  # not a recipe's method: build() puts it over a variant asked for with the option
DENOISERS = ("unet", "transformer")  # left as the base variant made them, with their step-caching graphs
# Methods that compress these weights themselves, reading the option (from the FP32 IR, not over their own int8)
COMPRESSED_BY_METHOD = ("weights-only",)


@dataclass(frozen=True)
class Options(StageOptions):
    """The text encoders' and VAE's weight precision; the default leaves every existing key as it was."""
    CHOICES = {"text_vae_weights": ("fp32", "int8", "int4")}
    text_vae_weights: str = "fp32"

    def active(self) -> bool:
        return self.text_vae_weights != "fp32"

    def check(self, name, recipe, given, built_on) -> None:
        if self.active() and built_on != "openvino":
            raise BadArgument(f"{name}: text_vae_weights={self.text_vae_weights} needs an OpenVINO variant (the "
                              f"weights are compressed in the IR); this one runs on {recipe.runtime}")
        if self.text_vae_weights == "int8" and recipe.method in COMPRESSED_BY_METHOD:
            raise BadArgument(f"{name}: its method already compresses every component's weights to int8, the text "
                              f"encoders' and VAE's included (int4 is what this option adds to it)")


def compressed_parts(folder, recipe) -> list:
    """The component IRs the layer compresses: not the denoiser, and not a decoder with int8 activations."""
    skipped = {*DENOISERS, *(("vae_decoder",) if recipe.vae_decoder != "fp32" else ())}
    return [path for path in component_irs(folder)
            if not any(path.parent.name == part or path.parent.name.startswith(f"{part}_") for part in skipped)]


def compress_text_vae_weights(ctx: BuildContext) -> None:
    link_copy(ctx.base, ctx.out)
    for path in compressed_parts(ctx.base, ctx.recipe):
        compress_weights(path, ctx.out / path.parent.name / path.name, ctx.recipe.text_vae_weights)


METHODS = {("openvino", LAYER): Method(compress_text_vae_weights, stage="text-vae-weights", owns=Options)}
