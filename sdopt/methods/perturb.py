"""The control stage: Gaussian noise added to the UNet's weights, so that quality metrics can be shown to tell a
damaged variant from a good one."""
from dataclasses import dataclass

from .. import progress
from ..artifacts import link_copy
from ..ir import IR, replace_ir
from ..perturb import perturb_weights
from .base import BuildContext, Method, StageOptions


@dataclass(frozen=True)
class Options(StageOptions):
    """Controls are deliberately broken variants that prove the quality metrics can tell; not in "all"."""
    control: bool = False
    noise: float = 0.0  # relative std of the noise added to UNet weights; read by this stage alone

    def active(self) -> bool:
        return self.control  # a recipe that is no control keeps the flag out of its key


def perturb(ctx: BuildContext) -> None:
    import openvino as ov

    link_copy(ctx.base, ctx.out)
    with progress.stage(f"adding {ctx.recipe.noise:.0%} noise to the UNet weights (a control variant)"):
        model = perturb_weights(ov.Core().read_model(ctx.base / "unet" / IR), ctx.recipe.noise)
        replace_ir(model, ctx.out / "unet" / IR)


METHODS = {("openvino", "perturb"): Method(perturb, reads=("noise",), stage="perturb")}
