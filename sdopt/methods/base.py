"""What every stage module in sdopt/methods/ gives: its build methods (`Method`, one per runtime it runs on) and
the recipe options it owns (`StageOptions`): their checks, when they enter the cache key, and whether a base
artifact built by the same stage takes them too."""
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, ClassVar

from ..artifacts import torch_artifact_of
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
    # The source folder is the cache's own (a built-in sdopt wrote): nothing writes to it again, so its files may
    # be hard-linked; a user's folder never is (a file they later rewrite in place would change the artifact).
    source_in_cache: bool = False


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
    # The stage it adds to the artifact's manifest: its name, the Options class whose values it lists there (else
    # the options it reads, as keyed), and whether a backend applies it on opening (a patch or a loop) rather
    # than finding it in the files.
    stage: str = ""
    owns: type | None = None
    on_open: bool = False
    # What depends on the model and this machine rather than on the recipe alone, asked before anything is
    # built: (recipe, source) -> the recipe with such settings made explicit (so the key holds them), and
    # (recipe, source) -> why it cannot be built here, or None. PTQ's memory rule is both (sdopt/ptq_memory.py).
    for_model: Callable | None = None
    refuses_model: Callable | None = None

    def stage_entry(self, recipe, key_material: dict) -> dict:
        options = (recipe.options_of(self.owns).values() if self.owns else
                   {name: key_material[name] for name in self.reads if name in key_material})
        return {"stage": self.stage, "options": options, "on_open": self.on_open}


@dataclass(frozen=True)
class StageOptions:
    """The recipe options one stage owns, as a frozen dataclass subclassed in the stage's module. Fields are named
    as `NAME[option=value]` spells them (`tome_ratio`); a recipe holds one instance of every stage's Options, at
    their defaults unless the variant sets them. The methods say how the stage treats them."""
    PREFIX: ClassVar[str] = ""  # stripped by `values()`: `tome_ratio` -> `ratio`, as the stage's functions take them
    CHOICES: ClassVar[dict] = {}  # word-valued fields and their words; anything else is refused where it is parsed

    @classmethod
    def names(cls) -> tuple:
        return tuple(f.name for f in fields(cls))

    def values(self) -> dict:
        return {name.removeprefix(self.PREFIX + "_"): getattr(self, name) for name in self.names()}

    def active(self) -> bool:
        """The stage is on in this recipe: only then do its fields enter the cache key."""
        return True

    def resolved(self) -> "StageOptions":
        """`auto` values made concrete for this machine, before they enter the key."""
        return self

    def for_unet(self, unet_config: dict) -> "StageOptions":
        """`auto` values that depend on the model made concrete for this UNet (its diffusers config), before they
        enter the key."""
        return self

    def check(self, name: str, recipe, given: set, built_on: str) -> None:
        """Raise BadArgument for a value or a combination the stage cannot build (`given`: the options the user
        set; `built_on`: the runtime whose methods make the artifact)."""

    def fits(self, unet_config: dict) -> str | None:
        """Why these options cannot change this model's UNet (its diffusers config), None if they can: asked of
        an active stage before anything is built."""
        return None

    @staticmethod
    def carried(base) -> bool:
        """The base recipe is built by this stage too, so a derived recipe's values pass down to it."""
        return False

    def refuses(self, recipe, steps: int) -> str | None:
        """Why the recipe cannot generate in `steps` steps (None: it can)."""
        return None

    def patch(self, unet) -> None:
        """Rewrite the torch UNet before a stage converts or trains it (the token stages); most leave it."""


def token_patched_unet(ctx: BuildContext):
    """The base's torch UNet with the recipe's token merging or token downsampling applied: what every stage that
    converts the UNet (ToMe, ToDo, step caching, QAT) starts from, so the patch is in whatever it makes."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(torch_artifact_of(ctx.base) / "unet").eval()
    for options in ctx.recipe.stage_options:
        if options.active():
            options.patch(unet)
    return unet
