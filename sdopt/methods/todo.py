"""Token downsampling (sdopt/todo.py) as a stage: on torch a patch applied on opening, on OpenVINO the UNet
converted with the downsampled keys and values in its graph."""
from .. import progress
from ..artifacts import link_copy
from ..errors import BadArgument
from ..ir import IR
from ..todo import check_grid, check_todo
from .base import BuildContext, Method, OptionGroup, token_patched_unet
from .tome import uses_tokens

FIELDS = ("todo_factor", "todo_max_downsample")


def todo_torch(ctx: BuildContext) -> None:
    """torch-fp32 with the stage listed; its patch refuses a grid when it meets one (torch has no fixed size)."""
    link_copy(ctx.base, ctx.out)


def todo_openvino(ctx: BuildContext) -> None:
    from ..export import convert_unet
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


def _check(name, recipe, given, built_on) -> None:
    if recipe.todo_factor or set(given) & set(FIELDS):
        check_todo(recipe.todo_factor, recipe.todo_max_downsample)
        if recipe.tome_ratio:
            raise BadArgument(f"{name}: token downsampling (todo_*) and token merging (tome_ratio) both rewrite "
                              f"self-attention's tokens; pick one")


GROUP = OptionGroup("todo", FIELDS, active=lambda recipe: bool(recipe.todo_factor), check=_check,
                    carried=uses_tokens)
METHODS = {("torch", "todo"): Method(todo_torch, stage="todo", options=GROUP.values, on_open=True),
           ("openvino", "todo"): Method(todo_openvino, check=check_todo_grid, stage="todo", options=GROUP.values)}
OPTION_GROUPS = (GROUP,)
