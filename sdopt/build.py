"""Build a variant (and, first, whatever it is built from) into the cache.

`build(recipe, model)` returns the artifact folder. The cache key covers the source's fingerprint, the resolved
recipe (what its method reads of it), the method's version, the base artifact, the resolution of static shapes
and the library versions. What each method does is in `methods.py`.
"""
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import backends, progress, recipes, sources
from .artifacts import library_versions, stages_of
from .cache import Cache, entry_folder_name
from .errors import BadArgument, UnknownName
from .inputs import VAE_CALIBRATION
from .methods.text_vae_weights import COMPRESSED_BY_METHOD
from .methods import (GENAI_LAYER, METHOD_OPTIONS, METHODS, PRECISION_LAYER, TEXT_VAE_LAYER, VAE_LAYER, BuildContext,
                      Method)
from .qat_settings import SHAPES_STEPS
from .recipes import NOT_IN_KEY, Recipe
from .sources import parse_resolution  # noqa: F401  (part of build's API: `sdopt.parse_resolution`)
from .spec import VariantSpec
from .training_data import WORLD_DATA, read_imagefolder

# 2: the manifest lists the artifact's stages, which backends apply (earlier artifacts had marker files instead).
ARTIFACT_LAYOUT = 2


def key_material(recipe: Recipe) -> dict:
    """What decides the artifact's content, flat as a spec names it (the one-line summary does not)."""
    recipe = recipe.resolved()
    data = {"name": recipe.name, **{name: getattr(recipe, name) for name in recipes.CORE}}
    reads = METHODS[(recipes.built_on(recipe), recipe.method)].reads
    if recipe.vae_decoder != "fp32":
        reads += METHODS[("openvino", VAE_LAYER)].reads
    if recipe.text_vae_weights != "fp32":  # a layer's option, read by the weights-only method too
        reads += ("text_vae_weights",)
    for options in recipe.stage_options:  # a stage the recipe does not have leaves its options out of the key
        if options.active():  # and knobs a method ignores must not split the cache
            data |= {k: v for k, v in asdict(options).items() if k not in METHOD_OPTIONS or k in reads}
    if recipe.training is not None:
        data["training"] = {k: v for k, v in asdict(recipe.training).items() if k not in NOT_IN_KEY}
    return data


def materialize(source: sources.Source, cache: Cache) -> Path:
    """The source as a diffusers folder; built-ins are built once and cached."""
    if source.folder is not None:
        return source.folder
    material = {"source": source.fingerprint(), "versions": library_versions()}
    return cache.get_or_build("sources", source.slug, material, _builtin_builder(source.spec))


def _builtin_builder(name):
    def build(out: Path) -> None:
        with progress.stage(f"building the {name} source pipeline from code"):
            sources.write_builtin(name, out, progress.say)
    return build


@dataclass(frozen=True)
class Plan:
    """What one build would make, worked out without building anything: the cache entry's name and material
    (whose key holds the base's entry name, so the whole chain is named before any of it is built)."""
    recipe: Recipe  # made concrete for the model
    resolved: Recipe  # and for this machine's ISA: what the method runs with
    recipe_key: dict
    base: "Plan | None"  # the base's own plan, planned once with this one
    method: Method
    entry: str  # the entry's name before its key: recipe and model
    material: dict
    size: tuple[int, int]
    static_shapes: bool

    @property
    def folder_name(self) -> str:
        return entry_folder_name(self.entry, self.material)


def plan(recipe: Recipe | VariantSpec | str, source: sources.Source, size: tuple[int, int]) -> Plan:
    """The build of `recipe` for `source` at `size`, named, with every refusal a stage makes asked first."""
    recipe = recipe if isinstance(recipe, Recipe) else recipes.get(recipe)
    recipe = for_source(recipe, source)
    runtime = recipes.built_on(recipe)
    if (runtime, recipe.method) not in METHODS:
        raise UnknownName(f"method of the {runtime} runtime", recipe.method, [m for r, m in METHODS if r == runtime])
    static_shapes = backends.get(recipe.runtime).static_shapes
    own = METHODS[(runtime, recipe.method)]
    if own.check and static_shapes:
        own.check(recipe, (size[0] // source.vae_scale_factor, size[1] // source.vae_scale_factor))
    parent, method = last_stage(recipe, source.unet_config)
    base = plan(parent, source, size) if parent is not None else None
    resolved = recipe.resolved()  # the ISA's choices made once: for the key and for the method
    recipe_key = key_material(resolved)
    material = {"source": source.fingerprint(), "recipe": recipe_key, "versions": library_versions(),
                "base": base.folder_name if base else None}
    if recipe.training is not None and recipe.training.data and recipe.training.data != WORLD_DATA:
        material["data_sha256"] = sources.hash_folder(Path(recipe.training.data))
    if method.version > 1:
        material["method_version"] = method.version
    if recipe.vae_decoder != "fp32":
        material["vae_calibration"] = VAE_CALIBRATION
    if recipe.runtime != runtime:  # the layer's own tools (not in every key: that would rebuild every variant)
        material["layer_versions"] = library_versions(("openvino-genai", "openvino-tokenizers"))
    if static_shapes:
        material["resolution"] = list(size)
    material["layout"] = ARTIFACT_LAYOUT
    if source.kind == "shapes" and "calibration_prompts" in recipe_key:
        # calibrated on the world's captions at the model's guidance
        material["calibration"] = {"prompts": "world", "guidance": source.default_guidance}
    return Plan(recipe, resolved, recipe_key, base, method, f"{sources.safe_name(recipe.name)}-{source.slug}",
                material, size, static_shapes)


def build(recipe: Recipe | VariantSpec | str, model: str | sources.Source = "tiny", resolution=None, cache: Cache | None = None,
          rebuild: bool = False) -> Path:
    recipe = recipe if isinstance(recipe, Recipe) else recipes.get(recipe)
    source = sources.resolve(model) if isinstance(model, str) else model
    reason = refusal(recipe, source)
    if reason:
        raise BadArgument(reason)
    return _build(plan(recipe, source, parse_resolution(resolution, source)), source, cache or Cache(), rebuild)


def _build(made: Plan, source: sources.Source, cache: Cache, rebuild: bool = False) -> Path:
    # A variant in the cache is served as it is: its base is built only to make it (a base deleted from the cache
    # is not rebuilt to open what was made from it).
    found = None if rebuild else cache.find("variants", made.entry, made.material)
    if found:
        return found
    source_folder = materialize(source, cache)
    base = _build(made.base, source, cache) if made.base is not None else None
    size = made.size
    label = f"{made.recipe.name} of {source.spec}" + (f" at {size[0]}x{size[1]}" if made.static_shapes else "")

    def make(out: Path) -> dict:
        with progress.stage(f"building {label}"):
            made.method.run(BuildContext(made.resolved, made.recipe_key, source_folder, base, out, size, cache,
                                         source.kind == "shapes", source.default_guidance,
                                         source_in_cache=source.folder is None))
        return {"stages": (stages_of(base) if base else []) + [made.method.stage_entry(made.resolved, made.recipe_key)]}

    return cache.get_or_build("variants", made.entry, made.material, make, rebuild=rebuild)


def refusal(recipe: Recipe | VariantSpec | str, source: sources.Source) -> str | None:
    """Why `recipe` cannot be built for the model `source` (None: it can): a stage its family cannot run, stage
    options that would leave its UNet unchanged, or a stage that refuses this model on this machine (PTQ at a
    scope that would not fit its memory). Asked before anything is built, and by the suites to leave such
    variants out."""
    recipe = recipe if isinstance(recipe, Recipe) else recipes.get(recipe)
    # With the model's UNet: a recipe already made concrete for it (the base of a GenAI or int8-decoder layer)
    # then names its own base as build() will, not with its reach carried as a difference from `auto`.
    run = chain(recipe, source.unet_config)
    reason = (source.family.stage_refusal(tuple(method.stage for method in run))
              or next(filter(None, (options.fits(source.unet_config)
                                    for options in recipe.stage_options if options.active())), None)
              or next(filter(None, (method.refuses_model(recipe, source)
                                    for method in run if method.refuses_model)), None))
    return reason and f"{recipe.name} cannot be built for a {source.family.title} model ({source.spec}): {reason}"


def last_stage(recipe: Recipe, unet_config: dict | None = None) -> tuple[Recipe | VariantSpec | None, Method]:
    """What the recipe's artifact is built on (None: nothing) and the method that makes it from there (for the
    model of `unet_config` when given: see `base_spec`)."""
    runtime = recipes.built_on(recipe)
    if recipe.runtime != runtime:
        # The same variant for the runtime its artifact is built for, with this runtime's own files added.
        return recipes.without_option(recipe, "runtime"), METHODS[(recipe.runtime, GENAI_LAYER)]
    if recipe.inference_precision != "f32":
        # The same files compiled at another precision: a layer over the f32 variant, which every build and
        # calibration below it shares (the int8 decoder included: calibrated on what the f32 pipeline draws).
        return recipes.without_option(recipe, "inference_precision"), METHODS[("openvino", PRECISION_LAYER)]
    if recipe.text_vae_weights != "fp32" and recipe.method not in COMPRESSED_BY_METHOD:
        # Over the same variant with float text encoders and VAE (an int8 decoder below it stays as it is).
        return recipes.without_option(recipe, "text_vae_weights"), METHODS[("openvino", TEXT_VAE_LAYER)]
    if recipe.vae_decoder != "fp32":
        # A layer over the same variant with the FP32 decoder, so every OpenVINO recipe takes the option and
        # shares its UNet build with the FP32-decoder variant.
        return recipes.without_option(recipe, "vae_decoder"), METHODS[("openvino", VAE_LAYER)]
    return (base_spec(recipe, unet_config) if recipe.base else None), METHODS[(runtime, recipe.method)]


def chain(recipe: Recipe | VariantSpec | str, unet_config: dict | None = None) -> tuple[Method, ...]:
    """The methods a variant's build runs, first to last (`unet_config`: as in `last_stage`)."""
    recipe = recipe if isinstance(recipe, Recipe) else recipes.get(recipe)
    recipe = recipe.for_unet(unet_config) if unet_config is not None else recipe  # as build() takes each level
    parent, method = last_stage(recipe, unet_config)
    return (chain(parent, unet_config) if parent is not None else ()) + (method,)


def stages(recipe: Recipe | VariantSpec | str) -> tuple:
    """A variant as its runtime plus an ordered tuple of stages: the stages its build runs, first to last (what
    its artifact's manifest lists)."""
    return tuple(method.stage for method in chain(recipe))


def base_spec(recipe: Recipe, unet_config: dict | None = None) -> VariantSpec:
    """The base's spec, carrying this recipe's ToMe and step-caching options when the base uses them too (so that
    `ov-tome-int8-ptq[tome_ratio=0.6]` starts from ov-tome-fp32 at 0.6, not at its default, and
    `ov-deepcache-int8-ptq[cache_interval=2,tome_ratio=0.4]` from the step-caching IRs made that way). A recipe
    already made concrete for a model is compared with its base made concrete the same way (`unet_config`), so a
    reach both leave at `auto` is not carried as a difference."""
    base = recipes.get(recipe.base)
    base = base.for_unet(unet_config) if unet_config is not None else base
    carried = [name for options in base.stage_options if options.carried(base) for name in options.names()]
    return VariantSpec.of(recipe.base, {k: getattr(recipe, k) for k in carried if getattr(recipe, k) != getattr(base, k)})


def for_source(recipe: Recipe, source: sources.Source) -> Recipe:
    """Settings that depend on the model (what its stages make explicit, as PTQ's int8 scope where full int8 would
    not fit in memory; QAT's schedule and loss weights; a token method's reach) made explicit, so the key holds
    them."""
    recipe = recipe.for_unet(source.unet_config)
    for method in chain(recipe, source.unet_config):
        recipe = method.for_model(recipe, source) if method.for_model else recipe
    if recipe.training is None:
        return recipe
    training = recipe.training.for_source(builtin=source.kind == "builtin", small=source.kind in ("builtin", "shapes"),
                                          steps=SHAPES_STEPS if source.kind == "shapes" else None)
    if source.kind == "shapes" and not training.data:
        training = replace(training, data=WORLD_DATA)  # a model with a world trains on it, not on its own drawings
    if training.data == WORLD_DATA:
        if source.kind != "shapes":
            raise BadArgument(f"data={WORLD_DATA}: only a shapes model has a world to draw training images from; "
                              f"pass an image-caption folder, or leave data out for data-free training")
    elif training.data:
        read_imagefolder(Path(training.data))  # bad data fails here, before anything is built
    return replace(recipe, training=training)
