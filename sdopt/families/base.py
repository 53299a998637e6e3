"""What a model family is: the one place that knows a pipeline's classes, components and constants.

Backends, export, calibration, training and sources ask the family of the folder they hold
(`sdopt.families.of_folder`) instead of naming a pipeline class; adding a family is one module beside this one
that gives `FAMILY` (found by name, sdopt/families/__init__.py).
"""
import importlib
import inspect
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import BadArgument
from ..tokenizer import write_tokenizer

# How a model takes guidance, which decides the UNet's batch (static in OpenVINO artifacts).
GUIDANCE_MODES = {
    "batch": "classifier-free guidance: the UNet runs on a batch of two, unconditional and conditional",
    "off": "guidance-distilled: one UNet input per step and no guidance",
    "embedded": "guidance-embedded: the scale is a UNet input (LCM's w-embedding), one UNet input per step",
}


# The scales each mode accepts (NaN fails every comparison), and the rule as refusals state it.
GUIDANCE_ACCEPTS = {"batch": lambda value: 1 < value < math.inf, "off": lambda value: 0 <= value <= 1,
                    "embedded": lambda value: 0 <= value < math.inf}
GUIDANCE_RULES = {"batch": "a finite number above 1", "off": "a number from 0 to 1",
                  "embedded": "a finite number from 0"}


@dataclass(frozen=True)
class Sampling:
    """How a model samples unless told otherwise: its guidance scale, the scheduler it is made for (the
    project's name for it), how it takes guidance, and the step count it is made for."""
    guidance: float
    scheduler: str
    guidance_mode: str = "batch"
    steps: int = 20

    @property
    def unet_batch(self) -> int:
        return 2 if self.guidance_mode == "batch" else 1

    def check_guidance(self, scale) -> float:
        """The scale as a float this model can sample with; anything else is refused naming the rule and why.
        Under classifier-free guidance diffusers drops the unconditional half at 1 or below, and the OpenVINO UNets
        are reshaped for the batch of two, so such a scale would fail there and time other work elsewhere."""
        try:
            value = float(scale)
        except (TypeError, ValueError):
            value = None
        if value is None or not GUIDANCE_ACCEPTS[self.guidance_mode](value):
            raise BadArgument(f"guidance scale must be {GUIDANCE_RULES[self.guidance_mode]} for this model "
                              f"({GUIDANCE_MODES[self.guidance_mode]}), got {scale!r}")
        return value


@dataclass(frozen=True)
class Architecture:
    """A built-in model of the family: its components' shapes, made with seeded random weights."""
    unet: dict
    vae: dict
    text: dict
    resolution: int  # the pipeline's native image size
    notes: str
    text_2: dict | None = None  # a second text encoder (SDXL's projecting one)
    # The form it ships as where the family has several (SDXL's base and few-step Turbo): its scheduler
    # (diffusers class name and config changes) and how it samples; None: the family's defaults.
    scheduler: dict | None = None
    sampling: Sampling | None = None


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    pipeline_classes: tuple  # model_index.json `_class_name`s this family loads
    diffusers_pipeline: str  # the diffusers class that loads and saves it
    optimum_pipeline: str  # optimum-intel's OpenVINO pipeline class
    # What OpenVINO GenAI's Text2ImagePipeline reads from model_index.json: component -> the class it accepts.
    genai_index_classes: dict
    latent_channels: int
    vae_scale: int  # image pixels per latent pixel
    sampling: Sampling  # how its models sample unless their own files say otherwise (`sampling_of`)
    denoiser_inputs: tuple  # the UNet's (or transformer's) named inputs, in call order
    scheduler_config: dict  # the noise schedule its built-ins and training use, with "_class_name"
    genai_pipeline: str = "Text2ImagePipeline"  # OpenVINO GenAI's class that runs the family ("": none does)
    builtins: dict = field(default_factory=dict)  # name -> Architecture
    # (family, name, out folder, seed, say) -> None: writes a built-in as a diffusers folder
    write_builtin: Callable | None = None
    # (scheduler config, unet config) -> Sampling, for families whose models differ in how they sample
    sampling_rule: Callable | None = None
    # Build stages that cannot run on this family: stage -> why (refused before anything is built).
    unsupported_stages: dict = field(default_factory=dict)
    text_encoders: tuple = ("text_encoder",)  # components that encode the prompt, in the pipeline's order

    @property
    def tokenizers(self) -> tuple:
        """The tokenizer folder of each text encoder (diffusers names them alike)."""
        return tuple(name.replace("text_encoder", "tokenizer") for name in self.text_encoders)

    def sampling_of(self, folder: Path) -> Sampling:
        """How the model in `folder` (a source or an artifact) samples, from its own scheduler and UNet configs."""
        if self.sampling_rule is None:
            return self.sampling
        folder = Path(folder)
        return self.sampling_rule(json.loads((folder / "scheduler" / "scheduler_config.json").read_text()),
                                  json.loads((folder / "unet" / "config.json").read_text()))

    def builtin_sampling(self, name: str) -> Sampling:
        return self.builtins[name].sampling or self.sampling

    def make_scheduler(self, arch: Architecture | None = None):
        """The diffusers scheduler a built-in ships with: the family's, or the architecture's form of it."""
        config = dict(self.scheduler_config) | ((arch.scheduler or {}) if arch else {})
        # from_config drops keys the class does not take (an Euler config's interpolation_type in Euler ancestral)
        return getattr(importlib.import_module("diffusers"), config.pop("_class_name")).from_config(config)

    def stage_refusal(self, stages: tuple) -> str | None:
        """Why a variant of these stages cannot be built for this family (None: it can)."""
        return next((f"its {stage} stage {self.unsupported_stages[stage]}" for stage in stages
                     if stage in self.unsupported_stages), None)

    def diffusers_class(self):
        return getattr(importlib.import_module("diffusers"), self.diffusers_pipeline)

    def optimum_class(self):
        return getattr(importlib.import_module("optimum.intel"), self.optimum_pipeline)

    def load_torch(self, folder: Path):
        """The pipeline in `folder` in FP32 on the CPU, with no safety checker."""
        import torch
        return self.diffusers_class().from_pretrained(folder, torch_dtype=torch.float32,
                                                      **self._without_safety_checker(feature_extractor=False))

    def assemble(self, **components):
        """A pipeline object from its components (the built-ins and the shapes model are assembled so)."""
        return self.diffusers_class()(**components, **self._without_safety_checker(feature_extractor=True))

    def _without_safety_checker(self, feature_extractor: bool) -> dict:
        """The arguments that leave the safety checker out, for pipelines that have one (SDXL has none, and
        diffusers warns about arguments a pipeline does not take)."""
        wanted = {"safety_checker": None, "requires_safety_checker": False}
        if feature_extractor:
            wanted["feature_extractor"] = None
        accepted = inspect.signature(self.diffusers_class()).parameters
        return {name: value for name, value in wanted.items() if name in accepted}


def write_seeded(family: Family, name: str, out: Path, seed: int, say: Callable[[str], None],
                 make_parts: Callable) -> None:
    """A built-in saved as a diffusers folder: `make_parts(tokenizer)` gives {component: constructor}, each made
    under its own seed (changing one leaves the others identical); every text encoder gets the project's offline
    tokenizer, the built-in its scheduler."""
    import torch
    tokenizer = write_tokenizer(out / "_vocab")
    models = {}
    for index, (part, make) in enumerate(make_parts(tokenizer).items()):
        torch.manual_seed(seed + index)
        say(f"initializing {name} {part} with seeded random weights")
        models[part] = make().eval()
    pipe = family.assemble(**models, **{folder: tokenizer for folder in family.tokenizers},
                           scheduler=family.make_scheduler(family.builtins[name]))
    pipe.save_pretrained(out, safe_serialization=True)
    shutil.rmtree(out / "_vocab")
