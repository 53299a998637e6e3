"""Runtimes a variant runs on, one module each; a recipe's `runtime` names one of them.

Adding a backend: a module with a `Variant` subclass, and one line in BACKENDS.
"""
from pathlib import Path

from ..cache import read_manifest
from ..errors import UnknownName
from .base import (Generation, Variant, capture_shallow_inputs, capture_unet_inputs, check_guidance, check_size,
                   check_steps, default_threads, initial_latents)
from .genai_backend import GenAIVariant
from .openvino_backend import OpenVINOVariant
from .torch_backend import TorchVariant

__all__ = ["BACKENDS", "Generation", "Variant", "capture_shallow_inputs",
           "capture_unet_inputs", "check_guidance",
           "check_size", "check_steps", "default_threads", "get", "initial_latents", "open_variant"]

BACKENDS: dict[str, type[Variant]] = {"torch": TorchVariant, "openvino": OpenVINOVariant, "genai": GenAIVariant}


def get(runtime: str) -> type[Variant]:
    if runtime not in BACKENDS:
        raise UnknownName("runtime", runtime, BACKENDS)
    return BACKENDS[runtime]


def open_variant(folder: Path, threads: int | None = None, perf_counters: bool = False,
                 compile: bool = True) -> Variant:
    """The artifact in `folder`, loaded on the runtime its recipe names (and compiled unless asked not to)."""
    variant = get(read_manifest(Path(folder))["material"]["recipe"]["runtime"])(folder, threads, perf_counters)
    if compile:
        variant.compile()
    return variant

