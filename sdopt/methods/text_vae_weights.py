"""Weight-only int8 of everything but the denoiser: a layer over any OpenVINO variant (`text_vae_weights=int8`)
that compresses the text encoders' and the VAE's weights and leaves the UNet as that variant built it.

Why a layer and not a recipe: an int8 UNet (PTQ, QAT, a student) leaves the FP32 text encoder and VAE as most of
what is left on disk (at SD 1.5 shapes, 0.8 of the 1.7 GB of `ov-int8-ptq`), so footprint needs them compressed
on top of whichever UNet a variant has. Weights only: the activations stay float, so the decode keeps the grain
the int8-activations decoder (`vae_decoder=int8`) brings. A decoder already quantized by that layer is left as it is.
"""
from dataclasses import dataclass

from .. import progress
from ..artifacts import link_copy
from ..errors import BadArgument
from ..ir import component_irs, replace_ir
from .base import BuildContext, Method, StageOptions

LAYER = "text-vae-weights-int8"  # not a recipe's method: build() puts it over a variant asked for with the option
DENOISERS = ("unet", "transformer")  # left as the base variant made them, with their step-caching graphs


@dataclass(frozen=True)
class Options(StageOptions):
    """The text encoders' and VAE's weight precision; the default leaves every existing key as it was."""
    CHOICES = {"text_vae_weights": ("fp32", "int8")}
    text_vae_weights: str = "fp32"

    def active(self) -> bool:
        return self.text_vae_weights != "fp32"

    def check(self, name, recipe, given, built_on) -> None:
        if self.active() and built_on != "openvino":
            raise BadArgument(f"{name}: text_vae_weights={self.text_vae_weights} needs an OpenVINO variant (the "
                              f"weights are compressed in the IR); this one runs on {recipe.runtime}")


def compressed_parts(folder, recipe) -> list:
    """The component IRs the layer compresses: not the denoiser, and not a decoder with int8 activations."""
    skipped = {*DENOISERS, *(("vae_decoder",) if recipe.vae_decoder != "fp32" else ())}
    return [path for path in component_irs(folder)
            if not any(path.parent.name == part or path.parent.name.startswith(f"{part}_") for part in skipped)]


def text_vae_weights_int8(ctx: BuildContext) -> None:
    import nncf
    import openvino as ov

    link_copy(ctx.base, ctx.out)
    core = ov.Core()
    for path in compressed_parts(ctx.base, ctx.recipe):
        with progress.stage(f"int8 weight compression of {path.parent.name}"):
            model = nncf.compress_weights(core.read_model(path), mode=nncf.CompressWeightsMode.INT8_ASYM)
            replace_ir(model, ctx.out / path.parent.name / path.name)


METHODS = {("openvino", LAYER): Method(text_vae_weights_int8, stage="text-vae-weights-int8")}
