"""Step caching (sdopt/deepcache.py) as a stage: the loop that switches graphs is chosen when the pipeline is
opened (on torch over the UNet's own modules, on OpenVINO over two IRs this stage converts)."""
import json
from dataclasses import dataclass

from .. import progress
from ..artifacts import link_copy, torch_artifact_of
from ..deepcache import SHALLOW_UNET, branches, branches_of_config, check_deepcache
from ..errors import BadArgument
from ..export import convert_step_graphs
from ..ir import IR
from .base import BuildContext, Method, StageOptions, token_patched_unet
from .todo import check_todo_grid


@dataclass(frozen=True)
class Options(StageOptions):
    """Every `cache_interval`-th step runs the full UNet, the steps between only the shallow branch
    `cache_branch` (0: the shallowest); 0 is off."""
    PREFIX = "cache"
    cache_interval: int = 0
    cache_branch: int = 0

    def active(self) -> bool:
        return bool(self.cache_interval)

    def check(self, name, recipe, given, built_on) -> None:
        if self.cache_interval or set(given) & set(self.names()):
            check_deepcache(self.cache_interval, self.cache_branch)
        if self.cache_interval and recipe.runtime != built_on:
            raise BadArgument(f"{name}: step caching switches between two UNet graphs from step to step, which "
                              f"needs the project's own loop; {recipe.runtime} runs its own loop in C++ over one "
                              f"UNet, so runtime={recipe.runtime} cannot run it")

    @staticmethod
    def carried(base) -> bool:
        return bool(base.cache_interval)

    def refuses(self, recipe, steps: int) -> str | None:
        if self.cache_interval:
            try:
                check_deepcache(self.cache_interval, self.cache_branch, steps=steps)
            except BadArgument as exc:
                return str(exc)
        return None


def deepcache_torch(ctx: BuildContext) -> None:
    """torch-fp32 with the stage listed."""
    config = json.loads((torch_artifact_of(ctx.base) / "unet" / "config.json").read_text())
    check_deepcache(ctx.recipe.cache_interval, ctx.recipe.cache_branch, branches_of_config(config))
    link_copy(ctx.base, ctx.out)


def deepcache_openvino(ctx: BuildContext) -> None:
    """Two IRs from the base's torch UNet (token-merged as the recipe says): the full UNet, which also returns the
    cached feature, in place of the pipeline's UNet, and the shallow branch under unet_shallow/."""
    recipe = ctx.recipe
    unet = token_patched_unet(ctx)
    check_deepcache(recipe.cache_interval, recipe.cache_branch, branches(unet))
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"converting the UNet's full and shallow (branch {recipe.cache_branch}) graphs to "
                        f"OpenVINO IR"):
        convert_step_graphs(unet, recipe.cache_branch, ctx.base / "unet" / IR, ctx.out / "unet" / IR,
                            ctx.out / SHALLOW_UNET / IR)


METHODS = {("torch", "deepcache"): Method(deepcache_torch, stage="deepcache", owns=Options, on_open=True),
           ("openvino", "deepcache"): Method(deepcache_openvino, check=check_todo_grid, stage="deepcache",
                                             owns=Options, on_open=True)}
