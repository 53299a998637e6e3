"""Post-training int8 quantization of the UNet IR (NNCF), calibrated on recorded UNet inputs; with step caching,
each of its two graphs on the inputs it sees itself."""
from .. import progress
from ..artifacts import link_copy, stages_of
from ..deepcache import SHALLOW_UNET
from ..inputs import calibration_samples
from ..ir import IR, replace_ir
from .base import BuildContext, Method

# What calibrated int8 reads of a recipe (PTQ here, QAT and the int8 VAE decoder too); a method that does not
# leaves them out of its key.
CALIBRATION = ("calibration_prompts", "calibration_steps", "overflow_fix", "int8_scope")


def ptq(ctx: BuildContext) -> None:
    import openvino as ov

    from ..quantize import quantize_unet
    link_copy(ctx.base, ctx.out)
    graphs = ["unet"] + ([SHALLOW_UNET] if any(s["stage"] == "deepcache" for s in stages_of(ctx.base)) else [])
    for graph in graphs:
        samples = calibration_samples(ctx.base, ctx.recipe, ctx.size, ctx.cache, ctx.world, ctx.guidance, graph)
        with progress.stage(f"NNCF int8 quantization of {graph} on {len(samples)} samples "
                            f"(overflow_fix={ctx.recipe.overflow_fix}, scope={ctx.recipe.int8_scope})"):
            quantized = quantize_unet(ov.Core().read_model(ctx.base / graph / IR), samples, ctx.recipe)
        replace_ir(quantized, ctx.out / graph / IR)


# 2: no SmoothQuant on float MatMuls; 3: attention kept float.
METHODS = {("openvino", "ptq"): Method(ptq, version=3, reads=CALIBRATION, stage="ptq")}
