"""Variants as named, frozen recipes, and the registry that later methods (QAT, ToMe) extend.

A recipe says what to make, never how to measure it. Fields left at "auto" are resolved against the
CPU before building (`resolved()`), and the resolved values are what enters the cache key.
"""
from dataclasses import asdict, dataclass, field, fields, replace

from .deepcache import CACHE_INTERVAL
from .errors import BadArgument, UnknownName
from .methods import OPTION_CLASSES, StageOptions
from .qat_settings import Training
from .spec import VariantSpec
from .training_data import WORLD_DATA  # noqa: F401  (recipes.WORLD_DATA: what data=world means)

# Runtimes that run another runtime's artifacts with a few files of their own added (sdopt/build.py): OpenVINO
# GenAI opens the OpenVINO variants' IR folders. The option runtime=genai asks for one.
RUNTIME_LAYERS = {"genai": "openvino"}


def _default_options() -> tuple:
    return tuple(cls() for cls in OPTION_CLASSES)


# Which stage's Options owns each flat option name.
OWNER = {name: cls for cls in OPTION_CLASSES for name in cls.names()}
CORE = ("runtime", "method", "base", "weights", "activations")


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    runtime: str  # "torch" | "openvino" | "genai" (an OpenVINO variant asked for with runtime=genai)
    method: str = "none"  # a build method of this runtime (sdopt/methods/): "none", "ptq", "qat", "tome", ...
    base: str | None = None  # the recipe whose artifact this one starts from
    weights: str = "fp32"
    activations: str = "fp32"
    training: Training | None = None  # QAT only
    # One Options of every stage (sdopt/methods/), in OPTION_CLASSES order; read as `recipe.<option>`.
    stage_options: tuple = field(default_factory=_default_options)
    # What the recipe was made from when options were given (sdopt/spec.py); never part of the cache key.
    spec: VariantSpec | None = None

    @classmethod
    def make(cls, name: str, summary: str, runtime: str, training: Training | None = None, **options) -> "Recipe":
        """A recipe with its fields and stage options given flat, as a spec spells them."""
        return cls(name, summary, runtime, training=training).replaced(**options)

    def __getattr__(self, name: str):
        """A stage option reads as an attribute, under the name a spec gives it (`recipe.tome_ratio`)."""
        if name in OWNER and "stage_options" in self.__dict__:
            return getattr(self.options_of(OWNER[name]), name)
        raise AttributeError(f"{type(self).__name__} has no attribute or option {name!r}")

    def options_of(self, cls) -> StageOptions:
        return next(options for options in self.stage_options if type(options) is cls)

    def replaced(self, **flat) -> "Recipe":
        """This recipe with fields and stage options replaced by flat name (no checks: see `with_options`)."""
        core = {k: v for k, v in flat.items() if k not in OWNER}
        staged = tuple(replace(options, **{k: v for k, v in flat.items() if OWNER.get(k) is type(options)})
                       for options in self.stage_options)
        return replace(self, stage_options=staged, **core)

    def flat_options(self) -> dict:
        """Every stage option by its flat name."""
        return {name: value for options in self.stage_options for name, value in asdict(options).items()}

    def resolved(self) -> "Recipe":
        """`auto` values made concrete for this CPU: what enters the cache key and what the method gets."""
        return replace(self, stage_options=tuple(options.resolved() for options in self.stage_options))

    def for_unet(self, unet_config: dict) -> "Recipe":
        """`auto` values that depend on the model made concrete for this UNet (a token method's reach)."""
        return replace(self, stage_options=tuple(options.for_unet(unet_config) for options in self.stage_options))

    def refuses(self, steps: int) -> str | None:
        """Why this variant cannot generate in `steps` denoising steps (None: it can), checked with the same
        rule its runtime applies, so a sweep leaves the combination out instead of failing it."""
        return next(filter(None, (options.refuses(self, steps) for options in self.stage_options)), None)

    def options(self) -> dict:
        """Every option `with_options` accepts: the recipe's fields, its stages' options and its training's."""
        names = {name: None for name in CORE + tuple(OWNER)}
        if self.training is not None:
            names |= {f.name: "training" for f in fields(self.training)}
        return names

    def with_options(self, **options) -> "Recipe":
        known = self.options()
        unknown = set(options) - set(known)
        if unknown:
            raise UnknownName(f"option of {self.name}", sorted(unknown)[0], known)
        options = with_choices_checked(self.name, options)
        training = {k: v for k, v in options.items() if known[k] == "training"}
        recipe = self.replaced(**{k: v for k, v in options.items() if known[k] is None})
        if training:
            recipe = replace(recipe, training=replace(recipe.training, **training))
        if recipe.training is not None:
            recipe.training.check()
        if recipe.runtime != self.runtime:
            check_runtime_layer(self, recipe)
        for stage in recipe.stage_options:  # each stage checks the options it owns (sdopt/methods/)
            stage.check(self.name, recipe, set(options), built_on(recipe))
        return recipe


def with_choices_checked(name: str, options: dict) -> dict:
    """The options with each word-valued one checked against its stage's words (`auto`, which the spec parser
    reads as None, given back as the word), so a misspelling never builds as the default."""
    checked = dict(options)
    for cls in OPTION_CLASSES:
        for option, allowed in cls.CHOICES.items():
            if option not in checked:
                continue
            value = checked[option]
            if value is None and "auto" in allowed:
                value = checked[option] = "auto"
            if value not in allowed:
                raise BadArgument(f"{name}: {option}={value!r} is not one of {', '.join(map(str, allowed))}")
    return checked


def check_runtime_layer(registered: Recipe, recipe: Recipe) -> None:
    """Refuse a runtime the registered variant's artifact cannot be opened on, before anything is built (what a
    stage cannot run on such a runtime, its group refuses)."""
    if RUNTIME_LAYERS.get(recipe.runtime) != registered.runtime:
        layered = [name for name, under in RUNTIME_LAYERS.items() if under == registered.runtime]
        raise BadArgument(f"{registered.name} runs on {registered.runtime}; runtime={recipe.runtime} is not one it "
                          f"can be opened on (" + (f"the other: {', '.join(layered)}" if layered else "no other") + ")")


def built_on(recipe: Recipe) -> str:
    """The runtime whose build methods make this recipe's artifact."""
    return RUNTIME_LAYERS.get(recipe.runtime, recipe.runtime)


REGISTRY: dict[str, Recipe] = {}
# Options that change how a build runs, not what it makes.
NOT_IN_KEY = ("checkpoint_every", "validate_every", "micro_batches_per_pass")


def default_variants() -> tuple:
    """What `--variants all` means: every registered variant except the controls."""
    return tuple(name for name, recipe in REGISTRY.items() if not recipe.control)


def register(recipe: Recipe) -> Recipe:
    REGISTRY[recipe.name] = recipe
    return recipe


def get(name: "str | VariantSpec") -> Recipe:
    """A registered variant, optionally with options: `ov-int8-qat[steps=200,learning_rate=2e-5]` or its
    VariantSpec."""
    spec = VariantSpec.parse(name)
    if spec.base not in REGISTRY:
        raise UnknownName("variant", spec.base, REGISTRY)
    recipe = REGISTRY[spec.base]
    if not spec.options:
        return recipe
    options = with_choices_checked(spec.base, spec.option_dict)
    spec = VariantSpec.of(spec.base, options)
    recipe = recipe.with_options(**options)
    return replace(recipe, name=spec.canonical(NOT_IN_KEY), spec=spec)


def spec_of(recipe: Recipe) -> VariantSpec:
    """The spec a recipe was made from (its registered name when it was taken as registered)."""
    return recipe.spec or VariantSpec(recipe.name)


def without_option(recipe: Recipe, option: str) -> Recipe:
    """The recipe with `option` back at its registered value, named as `get` would name it."""
    spec = spec_of(recipe).without(option)
    return replace(recipe.replaced(**{option: getattr(REGISTRY[spec.base], option)}),
                   name=spec.canonical(NOT_IN_KEY), spec=spec if spec.options else None)


def on_runtimes(names, runtimes) -> tuple[tuple, dict]:
    """Each OpenVINO variant of `names` once per runtime in `runtimes` ("openvino" as built, "genai" with
    runtime=genai), the others as they are: (the names, {name a runtime cannot run: why})."""
    known = ("openvino",) + tuple(RUNTIME_LAYERS)
    for runtime in runtimes:
        if runtime not in known:
            raise UnknownName("runtime", runtime, known)
    expanded, refused = [], {}
    for name in names:
        if get(name).runtime != "openvino":
            expanded.append(name)
            continue
        for runtime in runtimes:
            if runtime == "openvino":
                expanded.append(name)
                continue
            layered = VariantSpec.parse(name).with_option("runtime", runtime).format()
            try:
                get(layered)
            except BadArgument as exc:
                refused[layered] = str(exc)
                continue
            expanded.append(layered)
    return tuple(dict.fromkeys(expanded)), refused


def layered_counterpart(name: str) -> str | None:
    """The variant a layered runtime's copy (`NAME[runtime=genai]`) was made from, named as written without the
    runtime (None for any other variant)."""
    spec = VariantSpec.parse(name)
    if spec.option_dict.get("runtime") not in RUNTIME_LAYERS:
        return None
    return spec.without("runtime").canonical(NOT_IN_KEY)


def with_training_data(recipe: Recipe, folder) -> Recipe:
    """A QAT recipe trained on an image-caption folder. The folder is an input, not an option of the name: its
    content enters the cache key as a hash (sdopt/build.py), so a path never has to survive being parsed."""
    if recipe.training is None:
        raise BadArgument(f"{recipe.name} does not train: it takes no training data")
    return replace(recipe, training=replace(recipe.training, data=str(folder)))


BASELINE = "torch-fp32"  # what every speedup and every fidelity is measured against
register(Recipe.make(BASELINE, "PyTorch FP32 diffusers pipeline: the baseline", runtime="torch"))
register(Recipe.make("ov-fp32", "OpenVINO IR of every component, FP32, static shapes", runtime="openvino",
                base="torch-fp32"))
register(Recipe.make("ov-int8-ptq", "OpenVINO FP32 pipeline with an NNCF post-training int8 UNet (weights and "
                "activations, calibrated on recorded UNet inputs)", runtime="openvino", method="ptq",
                base="ov-fp32", weights="int8", activations="int8"))
register(Recipe.make("ov-int8-weights", "OpenVINO pipeline with int8 weights (UNet, text encoder, VAE), "
                "float activations", runtime="openvino", method="weights-only", base="ov-fp32", weights="int8"))
register(Recipe.make("ov-int8-ptq-full", "as ov-int8-ptq but int8 activations on every op NNCF picks (MatMuls "
                "included): the choice for CPUs with VNNI/AMX, measured against the conv-only default",
                runtime="openvino", method="ptq", base="ov-fp32", weights="int8", activations="int8",
                int8_scope="all"))
register(Recipe.make("ov-int8-qat", "OpenVINO FP32 pipeline with a quantization-aware trained int8 UNet: NNCF on the "
                "torch UNet, distillation from the FP32 teacher, EMA weights exported (the reference workflow)",
                runtime="openvino", method="qat", base="ov-fp32", weights="int8", activations="int8",
                training=Training()))
TOME = "token merging (ratio 0.4 of the highest-resolution self-attention tokens; option tome_ratio)"
register(Recipe.make("torch-tome", f"PyTorch FP32 with {TOME}", runtime="torch", method="tome", base="torch-fp32",
                tome_ratio=0.4))
register(Recipe.make("ov-tome-fp32", f"OpenVINO FP32 with {TOME} in the UNet's IR", runtime="openvino", method="tome",
                base="ov-fp32", tome_ratio=0.4))
register(Recipe.make("ov-tome-int8-ptq", f"ov-int8-ptq on top of {TOME}", runtime="openvino", method="ptq",
                base="ov-tome-fp32", weights="int8", activations="int8", tome_ratio=0.4))
register(Recipe.make("ov-tome-int8-qat", f"QAT with {TOME} applied before training, so training adapts to it (the "
                "reference's final variant)", runtime="openvino", method="qat", base="ov-tome-fp32", weights="int8",
                activations="int8", training=Training(), tome_ratio=0.4))
STEP_CACHING = (f"step caching (DeepCache: the full UNet every {CACHE_INTERVAL}rd step, only its shallowest branch "
                f"between; options cache_interval, cache_branch)")
register(Recipe.make("torch-deepcache", f"PyTorch FP32 with {STEP_CACHING}", runtime="torch", method="deepcache",
                base="torch-fp32", cache_interval=CACHE_INTERVAL))
register(Recipe.make("ov-deepcache-fp32", f"OpenVINO FP32 with {STEP_CACHING}: two IRs, the full UNet (which also "
                "returns the cached feature) and its shallow branch, switched by the project's own step loop",
                runtime="openvino", method="deepcache", base="ov-fp32", cache_interval=CACHE_INTERVAL))
register(Recipe.make("ov-deepcache-int8-ptq", "ov-deepcache-fp32 with both IRs int8 (NNCF PTQ, each calibrated on its "
                "own recorded inputs)", runtime="openvino", method="ptq", base="ov-deepcache-fp32", weights="int8",
                activations="int8", cache_interval=CACHE_INTERVAL))
TODO = "token downsampling (ToDo: self-attention keys and values on a 2x coarser grid in the highest-resolution " \
       "blocks; options todo_factor, todo_max_downsample)"
register(Recipe.make("torch-todo", f"PyTorch FP32 with {TODO}", runtime="torch", method="todo", base="torch-fp32",
                todo_factor=2))
register(Recipe.make("ov-todo-fp32", f"OpenVINO FP32 with {TODO} in the UNet's IR", runtime="openvino", method="todo",
                base="ov-fp32", todo_factor=2))
register(Recipe.make("ov-todo-int8-ptq", f"ov-int8-ptq on top of {TODO}", runtime="openvino", method="ptq",
                base="ov-todo-fp32", weights="int8", activations="int8", todo_factor=2))
LCM = ("a latent consistency student of the UNet (step distillation with guidance embedded: 4 LCM steps of one UNet "
       "input each, whatever step count is asked; options lcm_steps, lcm_train_steps)")
register(Recipe.make("torch-lcm", f"PyTorch FP32 with {LCM}", runtime="torch", method="lcm", base="torch-fp32",
                lcm_steps=4))
register(Recipe.make("ov-lcm-fp32", f"OpenVINO FP32 IR of torch-lcm: {LCM}", runtime="openvino", base="torch-lcm",
                lcm_steps=4))
register(Recipe.make("ov-lcm-int8-ptq", "ov-lcm-fp32 with an NNCF post-training int8 UNet calibrated on the student's own "
                "inputs", runtime="openvino", method="ptq", base="ov-lcm-fp32", weights="int8", activations="int8",
                lcm_steps=4))
register(Recipe.make("ov-lcm-todo-fp32", f"ov-lcm-fp32 with {TODO} in the student's IR", runtime="openvino",
                method="todo", base="ov-lcm-fp32", todo_factor=2, lcm_steps=4))
register(Recipe.make("ov-fp32-noised", "control: ov-fp32 with Gaussian noise (20% of each weight tensor's std) added "
                "to the UNet weights; a good quality metric must rank it clearly worse", runtime="openvino",
                method="perturb", base="ov-fp32", control=True, noise=0.2))
