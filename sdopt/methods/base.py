"""What every stage module in sdopt/methods/ gives: its build methods (`Method`, one per runtime it runs on) and
the recipe options it owns (`OptionGroup`): their checks, when they enter the cache key, and whether a base
artifact built by the same stage takes them too."""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..cache import Cache


@dataclass(frozen=True)
class BuildContext:
    recipe: object  # the resolved Recipe
    key_material: dict  # the recipe as it enters the cache key
    source_folder: Path  # the model as a diffusers folder
    base: Path | None  # the base artifact, finished
    out: Path  # where to write
    size: tuple[int, int]  # height, width of static shapes
    cache: Cache
    world: bool = False  # the model has a world (shapes): calibration draws on its training captions
    guidance: float | None = None  # the model's sampling guidance scale, which calibration records at


@dataclass(frozen=True)
class Method:
    run: Callable[[BuildContext], None]
    # Bump when what the method writes changes, so that cached artifacts of the old code are not reused; at 1
    # it stays out of the key.
    version: int = 1
    # Options of another stage's group that this method reads too (PTQ and QAT read the calibration options);
    # a method that does not read them leaves them out of its key, so a knob it ignores does not split the cache.
    reads: tuple = ()
    # Refuses a recipe it cannot build for this model and size, before any base is built: (recipe, latent size).
    check: Callable | None = None
    # The stage it adds to the artifact's manifest: its name, the options it was built with (recipe -> dict),
    # and whether a backend applies it on opening (a patch or a loop) rather than finding it in the files.
    stage: str = ""
    options: Callable = lambda recipe: {}
    on_open: bool = False

    def stage_entry(self, recipe, key_material: dict) -> dict:
        options = self.options(recipe) or {name: key_material[name] for name in self.reads if name in key_material}
        return {"stage": self.stage, "options": options, "on_open": self.on_open}


def _never(*_) -> bool:
    return False


def _no_check(*_) -> None:
    return None


@dataclass(frozen=True)
class OptionGroup:
    """Recipe options one stage owns (flat names, as `NAME[option=value]` spells them)."""
    name: str
    fields: tuple
    # The stage is on in this recipe: only then do its fields enter the cache key.
    active: Callable = _never
    # check(variant name, recipe, the options given, the runtime the artifact is built on): raise BadArgument.
    check: Callable = _no_check
    # carried(base recipe): the base is built by this stage too, so a derived recipe's values pass down to it.
    carried: Callable = _never
    # refuses(recipe, steps): why the recipe cannot generate in `steps` steps (None: it can).
    refuses: Callable = _no_check

    def values(self, recipe) -> dict:
        """The group's options without their prefix (`tome_ratio` -> `ratio`), as its functions take them."""
        prefix = self.name + "_"
        return {name.removeprefix(prefix): getattr(recipe, name) for name in self.fields}


def token_patched_unet(ctx: BuildContext):
    """The base's torch UNet with the recipe's token merging or token downsampling applied: what every stage that
    converts the UNet (ToMe, ToDo, step caching, QAT) starts from, so the patch is in whatever it makes."""
    from diffusers import UNet2DConditionModel

    from ..artifacts import torch_artifact_of
    unet = UNet2DConditionModel.from_pretrained(torch_artifact_of(ctx.base) / "unet").eval()
    if ctx.recipe.tome_ratio:
        from ..tome import apply_tome
        apply_tome(unet, **ctx.recipe.tome_settings())
    if ctx.recipe.todo_factor:
        from ..todo import apply_todo
        apply_todo(unet, **ctx.recipe.todo_settings())
    return unet
