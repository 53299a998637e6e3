"""What a model family is: the one place that knows a pipeline's classes, components and constants.

Backends, export, calibration, training and sources ask the family of the folder they hold
(`sdopt.families.of_folder`) instead of naming a pipeline class; adding a family is one module beside this one
that gives `FAMILY` (found by name, sdopt/families/__init__.py).
"""
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Architecture:
    """A built-in model of the family: its components' shapes, made with seeded random weights."""
    unet: dict
    vae: dict
    text: dict
    resolution: int  # the pipeline's native image size
    notes: str


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
    default_guidance: float  # the classifier-free guidance scale its models are tuned for
    denoiser_inputs: tuple  # the UNet's (or transformer's) named inputs, in call order
    scheduler_config: dict  # the noise schedule its built-ins and training use
    genai_pipeline: str = "Text2ImagePipeline"  # OpenVINO GenAI's class that runs the family ("": none does)
    builtins: dict = field(default_factory=dict)  # name -> Architecture
    # (family, name, out folder, say) -> None: writes a built-in as a diffusers folder
    write_builtin: Callable | None = None

    def diffusers_class(self):
        return getattr(importlib.import_module("diffusers"), self.diffusers_pipeline)

    def optimum_class(self):
        return getattr(importlib.import_module("optimum.intel"), self.optimum_pipeline)

    def load_torch(self, folder: Path):
        """The pipeline in `folder` in FP32 on the CPU, with no safety checker."""
        import torch
        return self.diffusers_class().from_pretrained(folder, torch_dtype=torch.float32, safety_checker=None,
                                                      requires_safety_checker=False)

    def assemble(self, **components):
        """A pipeline object from its components (the built-ins and the shapes model are assembled so)."""
        return self.diffusers_class()(**components, safety_checker=None, feature_extractor=None,
                                      requires_safety_checker=False)
