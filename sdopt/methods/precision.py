"""OpenVINO's inference precision for what runs in float: a layer over any OpenVINO variant
(`inference_precision=bf16`). Its files are the base's (hard links); the runtime compiles them with the precision
the manifest lists, so an int8 variant keeps int8 where it is quantized and runs the rest (attention, norms,
float layers, text encoder, VAE) in bf16. The variant with f32, the default, is its base: the project asks for f32
explicitly everywhere else, since OpenVINO would pick bf16 by itself on CPUs that have it."""
from dataclasses import dataclass

from ..artifacts import link_copy
from ..backends.openvino_backend import precision_refusal
from ..errors import BadArgument
from .base import BuildContext, Method, StageOptions

LAYER = "inference-precision"  # not a recipe's method: build() puts it over a variant asked for with the option


@dataclass(frozen=True)
class Options(StageOptions):
    """The CPU plugin's INFERENCE_PRECISION_HINT for float operations; f32 leaves every existing key as it was."""
    PREFIX = "inference"
    CHOICES = {"inference_precision": ("f32", "bf16")}
    inference_precision: str = "f32"

    def active(self) -> bool:
        return self.inference_precision != "f32"

    def check(self, name, recipe, given, built_on) -> None:
        if self.active() and built_on != "openvino":
            raise BadArgument(f"{name}: inference_precision={self.inference_precision} is an OpenVINO setting; this "
                              f"variant runs on {recipe.runtime}")


def precision_layer(ctx: BuildContext) -> None:
    link_copy(ctx.base, ctx.out)


def refuses_machine(recipe, source) -> str | None:
    """A precision this machine's CPU plugin cannot run is refused before anything is built (a fleet's suites
    then list the variant as not run on that machine, with this reason)."""
    return precision_refusal(recipe.inference_precision)


METHODS = {("openvino", LAYER): Method(precision_layer, stage=LAYER, owns=Options, on_open=True,
                                       refuses_model=refuses_machine)}
