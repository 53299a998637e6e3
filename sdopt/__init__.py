"""sdopt: make optimized Stable Diffusion variants (never measures; see `bench` for that)."""
from .build import build, library_versions, parse_resolution
from .cache import Cache
from .errors import BadArgument, CorruptArtifact, ModelNotFound, SdoptError, UnknownName
from .pipeline import Variant, open_variant
from .recipes import REGISTRY, Recipe, get as get_recipe, register

__all__ = ["build", "library_versions", "parse_resolution", "Cache", "BadArgument", "CorruptArtifact",
           "ModelNotFound", "SdoptError", "UnknownName", "Variant", "open_variant", "REGISTRY", "Recipe",
           "get_recipe", "register"]
