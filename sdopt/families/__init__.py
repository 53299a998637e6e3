"""Model families, one module each, found by name (see base.py for what a family owns; a module gives FAMILY).
A folder's family is named by the pipeline class in its model_index.json; a class no family loads is refused in
one line."""
import importlib
import json
import pkgutil
from pathlib import Path

from ..errors import BadArgument, ModelNotFound
from .base import GUIDANCE_MODES, Architecture, Family, Sampling
from .stable_diffusion import FAMILY as STABLE_DIFFUSION

FAMILIES: dict[str, Family] = {
    module.FAMILY.name: module.FAMILY
    for module in (importlib.import_module(f".{info.name}", __name__)
                   for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
                   if info.name != "base")}
# The family a bare size is checked against when no model is named (every family's VAE scale is 8 so far).
DEFAULT = STABLE_DIFFUSION

__all__ = ["Architecture", "Family", "GUIDANCE_MODES", "Sampling", "FAMILIES", "DEFAULT", "STABLE_DIFFUSION", "builtin", "builtin_names", "of_class", "of_folder"]


def of_class(class_name: str | None) -> Family:
    for family in FAMILIES.values():
        if class_name in family.pipeline_classes:
            return family
    supported = "; ".join(f"{f.title} ({', '.join(f.pipeline_classes)})" for f in FAMILIES.values())
    raise BadArgument(f"model_index.json names {class_name}, a pipeline no family here runs; supported: {supported}")


def of_folder(folder: Path) -> Family:
    """The family of a diffusers folder (a source or an artifact), read from its model_index.json."""
    index = Path(folder) / "model_index.json"
    if not index.is_file():
        raise ModelNotFound(f"{folder} has no model_index.json: not a diffusers pipeline folder")
    return of_class(json.loads(index.read_text()).get("_class_name"))


def builtin(name: str) -> tuple[Family, Architecture] | None:
    """(family, architecture) of a built-in model name, None if no family has one by that name."""
    for family in FAMILIES.values():
        if name in family.builtins:
            return family, family.builtins[name]
    return None


def builtin_names() -> list[str]:
    return [name for family in FAMILIES.values() for name in family.builtins]
