"""sdopt: make optimized Stable Diffusion variants (never measures; see `bench` for that)."""
from .library_warnings import silence as _silence_library_warnings

_silence_library_warnings()  # before anything imports diffusers
from .artifacts import library_versions
from .backends import Variant, open_variant
from .build import build, key_material, refusal as build_refusal, stages as build_stages
from .cache import Cache
from .errors import BadArgument, CorruptArtifact, ModelNotFound, SdoptError, UnknownName
from .recipes import REGISTRY, Recipe, get as get_recipe, register
from .sources import parse_resolution
from .spec import VariantSpec

__all__ = ["build", "build_refusal", "build_stages", "key_material", "library_versions", "parse_resolution", "Cache", "BadArgument",
           "CorruptArtifact", "ModelNotFound", "SdoptError", "UnknownName", "Variant", "open_variant", "REGISTRY",
           "Recipe", "VariantSpec", "get_recipe", "register"]
