"""Token merging (sdopt/tome.py) as a stage: on torch a patch applied when the pipeline is opened, on OpenVINO the
UNet converted with the merge in its graph."""

from .. import progress
from ..artifacts import link_copy
from ..ir import IR
from ..tome import check_tome
from .base import BuildContext, Method, OptionGroup, token_patched_unet


def tome_torch(ctx: BuildContext) -> None:
    """The artifact is torch-fp32 whose manifest lists the tome stage, applied on opening."""
    link_copy(ctx.base, ctx.out)


def tome_openvino(ctx: BuildContext) -> None:
    from ..export import convert_unet
    unet = token_patched_unet(ctx)
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"converting the UNet with token merging (ratio {ctx.recipe.tome_ratio}) to OpenVINO IR"):
        convert_unet(unet, ctx.base / "unet" / IR, ctx.out / "unet" / IR)


def uses_tokens(base) -> bool:
    """A base built by a stage that patches the UNet's tokens (or converts a patched UNet: step caching's graphs
    take both), so a derived recipe's token options pass down to it."""
    return bool(base.tome_ratio or base.todo_factor or base.cache_interval)


GROUP = OptionGroup(
    "tome", ("tome_ratio", "tome_max_downsample", "tome_mlp", "tome_crossattn"),
    active=lambda recipe: bool(recipe.tome_ratio),
    check=lambda name, recipe, given, built_on: check_tome(recipe.tome_ratio, recipe.tome_max_downsample),
    carried=uses_tokens)
# 2: one plan per block, from its input; 3: row gathers instead of element gathers and scatters (same values).
METHODS = {("torch", "tome"): Method(tome_torch, version=3, stage="tome", options=GROUP.values, on_open=True),
           ("openvino", "tome"): Method(tome_openvino, version=3, stage="tome", options=GROUP.values)}
OPTION_GROUPS = (GROUP,)
