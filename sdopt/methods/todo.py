"""Token downsampling (sdopt/todo.py) as a stage: on torch a patch applied on opening, on OpenVINO the UNet
converted with the downsampled keys and values in its graph."""
from dataclasses import dataclass, replace

from .. import progress
from ..artifacts import link_copy
from ..errors import BadArgument
from ..export import convert_unet
from ..ir import IR
from ..todo import TODO_DOWNSAMPLES, apply_todo, check_grid, check_todo
from ..tome import AUTO_REACH, reach, reach_refusal
from .base import BuildContext, Method, StageOptions, token_patched_unet
from .tome import check_token_stage, uses_tokens


@dataclass(frozen=True)
class Options(StageOptions):
    """Self-attention's keys and values on a grid `todo_factor` times coarser in each direction, in blocks at most
    `todo_max_downsample` below the latent's resolution (`auto`: the UNet's highest-resolution self-attention);
    0 is off."""
    PREFIX = "todo"
    CHOICES = {"todo_max_downsample": (AUTO_REACH, *TODO_DOWNSAMPLES)}
    todo_factor: int = 0
    todo_max_downsample: int | str = AUTO_REACH

    def active(self) -> bool:
        return bool(self.todo_factor)

    def check(self, name, recipe, given, built_on) -> None:
        if self.todo_factor or set(given) & set(self.names()):
            check_todo(self.todo_factor, self.todo_max_downsample)
            check_token_stage(name, set(given) & set(self.names()))
            if recipe.tome_ratio:
                raise BadArgument(f"{name}: token downsampling (todo_*) and token merging (tome_ratio) both "
                                  f"rewrite self-attention's tokens; pick one")

    def fits(self, unet_config: dict) -> str | None:
        return reach_refusal("token downsampling", "todo_max_downsample", self.todo_max_downsample, unet_config)

    def for_unet(self, unet_config: dict) -> "Options":
        return replace(self, todo_max_downsample=reach(self.todo_max_downsample, unet_config))

    @staticmethod
    def carried(base) -> bool:
        return uses_tokens(base)

    def patch(self, unet) -> None:
        apply_todo(unet, **self.values())


def todo_torch(ctx: BuildContext) -> None:
    """torch-fp32 with the stage listed; its patch refuses a grid when it meets one (torch has no fixed size)."""
    link_copy(ctx.base, ctx.out)


def todo_openvino(ctx: BuildContext) -> None:
    unet = token_patched_unet(ctx)
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"converting the UNet with token downsampling (factor {ctx.recipe.todo_factor}) to "
                        f"OpenVINO IR"):
        convert_unet(unet, ctx.base / "unet" / IR, ctx.out / "unet" / IR)


def check_todo_grid(recipe, latent: tuple[int, int]) -> None:
    """At static shapes: every grid ToDo reaches must split into whole cells (any stage that converts a UNet
    with ToDo in it asks this)."""
    if recipe.todo_factor:
        check_grid(recipe.todo_factor, recipe.todo_max_downsample, *latent)


METHODS = {("torch", "todo"): Method(todo_torch, stage="todo", owns=Options, on_open=True),
           ("openvino", "todo"): Method(todo_openvino, check=check_todo_grid, stage="todo", owns=Options)}
