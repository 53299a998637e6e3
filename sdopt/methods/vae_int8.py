"""The int8 VAE decoder: a layer over any OpenVINO variant (`vae_decoder=int8`), its decoder quantized by NNCF on
the final latents that variant itself draws; the variant with the FP32 decoder is its base."""
from dataclasses import dataclass

from .. import progress
from ..artifacts import link_copy
from ..errors import BadArgument
from ..inputs import VAE_CALIBRATION, vae_calibration_samples
from ..ir import IR, replace_ir
from ..quantize import quantize_vae_decoder
from .base import BuildContext, Method, StageOptions

LAYER = "vae-decoder-int8"  # not a recipe's method: build() puts it over a variant asked for with the option


@dataclass(frozen=True)
class Options(StageOptions):
    """The VAE decoder's precision; the default leaves every existing key as it was."""
    CHOICES = {"vae_decoder": ("fp32", "int8")}
    vae_decoder: str = "fp32"

    def active(self) -> bool:
        return self.vae_decoder != "fp32"

    def check(self, name, recipe, given, built_on) -> None:
        if self.vae_decoder != "fp32" and built_on != "openvino":
            raise BadArgument(f"{name}: vae_decoder={self.vae_decoder} needs an OpenVINO variant (the decoder is "
                              f"quantized as an IR); this one runs on {recipe.runtime}")


def vae_decoder_int8(ctx: BuildContext) -> None:
    import openvino as ov

    samples = vae_calibration_samples(ctx.base, ctx.size, ctx.world, ctx.guidance)
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"NNCF int8 quantization of the VAE decoder on {len(samples)} final latents "
                        f"({VAE_CALIBRATION['steps']} steps each; overflow_fix={ctx.recipe.overflow_fix}, "
                        f"scope={ctx.recipe.int8_scope})"):
        quantized = quantize_vae_decoder(ov.Core().read_model(ctx.base / "vae_decoder" / IR), samples, ctx.recipe)
    replace_ir(quantized, ctx.out / "vae_decoder" / IR)


METHODS = {("openvino", LAYER): Method(vae_decoder_int8, reads=("overflow_fix", "int8_scope"), stage="vae-int8")}
