"""Token merging (sdopt/tome.py) as a stage: on torch a patch applied when the pipeline is opened, on OpenVINO the
UNet converted with the merge in its graph."""

from dataclasses import dataclass, replace

from .. import progress
from ..artifacts import link_copy
from ..errors import BadArgument
from ..export import convert_unet
from ..ir import IR
from ..tome import AUTO_REACH, TOME_DOWNSAMPLES, apply_tome, check_tome, reach, reach_refusal
from .base import BuildContext, Method, StageOptions, token_patched_unet


@dataclass(frozen=True)
class Options(StageOptions):
    """Share of tokens merged before self-attention (and, if asked, before cross-attention and the MLP) in blocks
    at most `tome_max_downsample` below the latent's resolution (`auto`: the UNet's highest-resolution
    self-attention); 0 is off."""
    PREFIX = "tome"
    CHOICES = {"tome_max_downsample": (AUTO_REACH, *TOME_DOWNSAMPLES)}
    tome_ratio: float = 0.0
    tome_max_downsample: int | str = AUTO_REACH
    tome_mlp: bool = False
    tome_crossattn: bool = False

    def active(self) -> bool:
        return bool(self.tome_ratio)

    def check(self, name, recipe, given, built_on) -> None:
        check_tome(self.tome_ratio, self.tome_max_downsample)
        check_token_stage(name, given & set(self.names()))

    def fits(self, unet_config: dict) -> str | None:
        return reach_refusal("token merging", "tome_max_downsample", self.tome_max_downsample, unet_config)

    def for_unet(self, unet_config: dict) -> "Options":
        return replace(self, tome_max_downsample=reach(self.tome_max_downsample, unet_config))

    @staticmethod
    def carried(base) -> bool:
        return uses_tokens(base)

    def patch(self, unet) -> None:
        apply_tome(unet, **self.values())


def tome_torch(ctx: BuildContext) -> None:
    """The artifact is torch-fp32 whose manifest lists the tome stage, applied on opening."""
    link_copy(ctx.base, ctx.out)


def tome_openvino(ctx: BuildContext) -> None:
    unet = token_patched_unet(ctx)
    link_copy(ctx.base, ctx.out)
    with progress.stage(f"converting the UNet with token merging (ratio {ctx.recipe.tome_ratio}) to OpenVINO IR"):
        convert_unet(unet, ctx.base / "unet" / IR, ctx.out / "unet" / IR)


# The stages that patch or convert a UNet with its token options: on torch the token methods' patches on opening;
# on OpenVINO also step caching, whose graphs are converted from the patched UNet (torch's step caching is not).
TOKEN_METHODS = {"torch": ("tome", "todo"), "openvino": ("tome", "todo", "deepcache")}


def applies_tokens(recipe) -> bool:
    return recipe.method in TOKEN_METHODS.get(recipe.runtime, ())


def check_token_stage(name: str, given: set) -> None:
    """Token options given to a variant whose chain has no stage that applies them would build it unchanged
    under a name that says otherwise: refused. A variant's token options reach its base when the base uses
    tokens (as `ov-todo-int8-ptq` quantizes `ov-todo-fp32`), so the chain is followed as build() follows it."""
    from ..recipes import REGISTRY  # recipes imports the methods

    if not given:
        return
    recipe = REGISTRY[name]
    while not applies_tokens(recipe):
        base = REGISTRY.get(recipe.base) if recipe.base else None
        if base is None or not uses_tokens(base):
            takers = sorted(n for n, r in REGISTRY.items() if applies_tokens(r)
                            or (r.base in REGISTRY and uses_tokens(REGISTRY[r.base])))
            raise BadArgument(f"{name}: {', '.join(sorted(given))} would be ignored: no stage of {name} rewrites the "
                              f"UNet's tokens; the variants that take token options: {', '.join(takers)}")
        recipe = base


def uses_tokens(base) -> bool:
    """A base built by a stage that patches the UNet's tokens (or converts a patched UNet: step caching's graphs
    take both), so a derived recipe's token options pass down to it."""
    return bool(base.tome_ratio or base.todo_factor or base.cache_interval)


# 2: one plan per block, from its input; 3: row gathers instead of element gathers and scatters (same values).
METHODS = {("torch", "tome"): Method(tome_torch, version=3, stage="tome", owns=Options, on_open=True),
           ("openvino", "tome"): Method(tome_openvino, version=3, stage="tome", owns=Options)}
