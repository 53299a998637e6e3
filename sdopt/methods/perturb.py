"""The control stage: Gaussian noise added to the UNet's weights, so that quality metrics can be shown to tell a
damaged variant from a good one."""
from .. import progress
from ..artifacts import link_copy
from ..ir import IR, replace_ir
from .base import BuildContext, Method, OptionGroup


def perturb(ctx: BuildContext) -> None:
    import openvino as ov

    from ..perturb import perturb_weights
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"adding {ctx.recipe.noise:.0%} noise to the UNet weights (a control variant)"):
        model = perturb_weights(ov.Core().read_model(ctx.base / "unet" / IR), ctx.recipe.noise)
        replace_ir(model, ctx.out / "unet" / IR)


METHODS = {("openvino", "perturb"): Method(perturb, reads=("noise",), stage="perturb")}
# Controls are not in "all"; a recipe that is none keeps the flag out of its key.
OPTION_GROUPS = (OptionGroup("control", ("control",), active=lambda recipe: bool(recipe.control)),)
