"""Step caching (sdopt/deepcache.py) as a stage: the loop that switches graphs is chosen when the pipeline is
opened (on torch over the UNet's own modules, on OpenVINO over two IRs this stage converts)."""
import json

from .. import progress
from ..artifacts import link_copy, torch_artifact_of
from ..deepcache import SHALLOW_UNET, branches, branches_of_config, check_deepcache
from ..errors import BadArgument
from ..ir import IR
from .base import BuildContext, Method, OptionGroup, token_patched_unet
from .todo import check_todo_grid

FIELDS = ("cache_interval", "cache_branch")


def deepcache_torch(ctx: BuildContext) -> None:
    """torch-fp32 with the stage listed."""
    config = json.loads((torch_artifact_of(ctx.base) / "unet" / "config.json").read_text())
    check_deepcache(ctx.recipe.cache_interval, ctx.recipe.cache_branch, branches_of_config(config))
    link_copy(ctx.base, ctx.out)


def deepcache_openvino(ctx: BuildContext) -> None:
    """Two IRs from the base's torch UNet (token-merged as the recipe says): the full UNet, which also returns the
    cached feature, in place of the pipeline's UNet, and the shallow branch under unet_shallow/."""
    from ..export import convert_step_graphs
    recipe = ctx.recipe
    unet = token_patched_unet(ctx)
    check_deepcache(recipe.cache_interval, recipe.cache_branch, branches(unet))
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"converting the UNet's full and shallow (branch {recipe.cache_branch}) graphs to "
                        f"OpenVINO IR"):
        convert_step_graphs(unet, recipe.cache_branch, ctx.base / "unet" / IR, ctx.out / "unet" / IR,
                            ctx.out / SHALLOW_UNET / IR)


def _check(name, recipe, given, built_on) -> None:
    if recipe.cache_interval or set(given) & set(FIELDS):
        check_deepcache(recipe.cache_interval, recipe.cache_branch)
    if recipe.cache_interval and recipe.runtime != built_on:
        raise BadArgument(f"{name}: step caching switches between two UNet graphs from step to step, which needs "
                          f"the project's own loop; {recipe.runtime} runs its own loop in C++ over one UNet, so "
                          f"runtime={recipe.runtime} cannot run it")


def _refuses(recipe, steps: int) -> str | None:
    if recipe.cache_interval:
        try:
            check_deepcache(recipe.cache_interval, recipe.cache_branch, steps=steps)
        except BadArgument as exc:
            return str(exc)
    return None


GROUP = OptionGroup("cache", FIELDS, active=lambda recipe: bool(recipe.cache_interval), check=_check,
                    carried=lambda base: bool(base.cache_interval), refuses=_refuses)
METHODS = {("torch", "deepcache"): Method(deepcache_torch, stage="deepcache", options=GROUP.values, on_open=True),
           ("openvino", "deepcache"): Method(deepcache_openvino, check=check_todo_grid, stage="deepcache",
                                             options=GROUP.values, on_open=True)}
OPTION_GROUPS = (GROUP,)
