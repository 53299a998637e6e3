"""Post-training int8 quantization of the UNet IR (NNCF), calibrated on recorded UNet inputs; with step caching,
each of its two graphs on the inputs it sees itself."""
from dataclasses import dataclass, replace

from .. import progress, ptq_memory
from ..artifacts import link_copy, stages_of
from ..deepcache import SHALLOW_UNET
from ..errors import BadArgument
from ..inputs import calibration_samples
from ..ir import IR, replace_ir
from ..isa import has_int8_dot_product
from ..quantize import quantize_unet
from .base import BuildContext, Method, StageOptions


@dataclass(frozen=True)
class Options(StageOptions):
    """How calibrated int8 is made (PTQ here; QAT and the int8 VAE decoder read these too). A method that does not
    read them leaves them out of its key. `auto` is resolved against the CPU before building."""
    CHOICES = {"overflow_fix": ("auto", "disable", "first_layer", "enable"),
               "int8_scope": ("auto", "all", "conv-only", "hybrid")}
    calibration_prompts: int = 4
    calibration_steps: int = 4
    # NNCF's overflow fix halves int8 weight ranges so that AVX2/AVX-512 without VNNI do not saturate.
    overflow_fix: str = "auto"
    # Which ops get int8 activations: "conv-only" keeps MatMuls (attention, linear layers) in float, which
    # keeps OpenVINO's fused attention and avoids int8 FullyConnected that is not faster without VNNI. "hybrid"
    # gives the MatMuls int8 weights only (activations float) and the rest full int8: PTQ's scheme for a UNet
    # whose full int8 does not fit the machine's memory (sdopt/ptq_memory.py).
    int8_scope: str = "auto"

    def check(self, name, recipe, given, built_on) -> None:
        if self.int8_scope == "hybrid" and recipe.method == "qat":
            raise BadArgument(f"{name}: int8_scope=hybrid compresses MatMul weights after calibration, a post-"
                              f"training scheme; QAT trains fake quantizers on the torch UNet: use all or conv-only")

    def resolved(self) -> "Options":
        vnni = has_int8_dot_product()
        changes = {}
        if self.overflow_fix == "auto":
            changes["overflow_fix"] = "disable" if vnni else "enable"
        if self.int8_scope == "auto":
            changes["int8_scope"] = "all" if vnni else "conv-only"
        return replace(self, **changes)


CALIBRATION = Options.names()


def ptq(ctx: BuildContext) -> None:
    import openvino as ov

    link_copy(ctx.base, ctx.out)
    graphs = ["unet"] + ([SHALLOW_UNET] if any(s["stage"] == "deepcache" for s in stages_of(ctx.base)) else [])
    for graph in graphs:
        samples = calibration_samples(ctx.base, ctx.recipe, ctx.size, ctx.cache, ctx.world, ctx.guidance, graph)
        with progress.stage(f"NNCF int8 quantization of {graph} on {len(samples)} samples "
                            f"(overflow_fix={ctx.recipe.overflow_fix}, scope={ctx.recipe.int8_scope})"):
            quantized = quantize_unet(ov.Core().read_model(ctx.base / graph / IR), samples, ctx.recipe)
        replace_ir(quantized, ctx.out / graph / IR)


def scope_that_fits(recipe, source):
    """`auto` takes hybrid where the CPU's own choice of scope would not fit this machine's memory."""
    if recipe.int8_scope != "auto":
        return recipe
    scope = ptq_memory.fitted_scope(recipe.resolved().int8_scope, source.unet_config)
    return recipe.replaced(int8_scope=scope) if scope == "hybrid" else recipe


def memory_refusal(recipe, source) -> str | None:
    return ptq_memory.refusal(recipe.resolved().int8_scope, recipe.int8_scope != "auto", source.unet_config)


# 2: no SmoothQuant on float MatMuls; 3: attention kept float.
METHODS = {("openvino", "ptq"): Method(ptq, version=3, reads=CALIBRATION, stage="ptq", for_model=scope_that_fits,
                                       refuses_model=memory_refusal)}
