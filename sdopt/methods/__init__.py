"""The build stages, one module each: a module gives `METHODS` ({(runtime, method): Method}) and, for the recipe
options it owns, an `Options` dataclass (a StageOptions). Modules are found here by name, so adding a stage is adding its module.

Every method gets one `BuildContext` and writes a finished artifact into `ctx.out`; most start from a hard-link
copy of their base artifact and replace one IR. The manifest of what they write lists its stages in build order
(`Method.stage_entry`), which is what backends apply on opening.
"""
import importlib
import pkgutil

from .base import BuildContext, Method, StageOptions
from .genai_files import LAYER as GENAI_LAYER
from .precision import LAYER as PRECISION_LAYER
from .text_vae_weights import LAYER as TEXT_VAE_LAYER
from .vae_int8 import LAYER as VAE_LAYER

STAGE_MODULES = tuple(importlib.import_module(f".{info.name}", __name__)
                      for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
                      if info.name != "base")
METHODS: dict = {key: method for module in STAGE_MODULES for key, method in module.METHODS.items()}
# Every stage's Options class: a recipe holds one instance of each.
OPTION_CLASSES: tuple = tuple(module.Options for module in STAGE_MODULES if hasattr(module, "Options"))
# Options some method reads: every other method's key leaves them out.
METHOD_OPTIONS = frozenset(name for method in METHODS.values() for name in method.reads)

__all__ = ["BuildContext", "GENAI_LAYER", "METHODS", "METHOD_OPTIONS", "Method", "OPTION_CLASSES", "PRECISION_LAYER",
           "STAGE_MODULES", "StageOptions", "TEXT_VAE_LAYER", "VAE_LAYER"]
