"""Runtimes a variant runs on, one module each; a recipe's `runtime` names one of them.

Adding a backend is adding a module named `<runtime>_backend.py` whose `Variant` subclass sets `runtime`: modules
are found here by name, as build stages and model families are.
"""
import importlib
import inspect
import pkgutil
from pathlib import Path

from ..cache import read_manifest
from ..errors import UnknownName
from .base import (Generation, Variant, capture_shallow_inputs, capture_unet_inputs, check_guidance, check_size,
                   check_steps, default_threads, initial_latents)

__all__ = ["BACKENDS", "Generation", "Variant", "capture_shallow_inputs",
           "capture_unet_inputs", "check_guidance",
           "check_size", "check_steps", "default_threads", "get", "initial_latents", "open_variant"]



def _variant_classes(module) -> list:
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Variant) and cls.__module__ == module.__name__ and cls.runtime]


BACKENDS: dict[str, type[Variant]] = {
    cls.runtime: cls
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name) if info.name.endswith("_backend")
    for cls in _variant_classes(importlib.import_module(f".{info.name}", __name__))}


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

