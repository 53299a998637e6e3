"""Variants as named, frozen recipes, and the registry that later methods (QAT, ToMe) extend.

A recipe says what to make, never how to measure it. Fields left at "auto" are resolved against the
CPU before building (`resolved()`), and the resolved values are what enters the cache key.
"""
from dataclasses import asdict, dataclass, field, replace

from .errors import UnknownName
from .isa import has_int8_dot_product

OVERFLOW_FIX = ("auto", "disable", "first_layer", "enable")
INT8_SCOPES = ("auto", "all", "conv-only")


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    runtime: str  # "torch" | "openvino"
    method: str = "none"  # "none" | "ptq" | "weights-only"; later issues add more
    base: str | None = None  # the recipe whose artifact this one starts from
    weights: str = "fp32"
    activations: str = "fp32"
    calibration_prompts: int = 4
    calibration_steps: int = 4
    # NNCF's overflow fix halves int8 weight ranges so that AVX2/AVX-512 without VNNI do not saturate.
    overflow_fix: str = "auto"
    # Which ops get int8 activations: "conv-only" keeps MatMuls (attention, linear layers) in float, which
    # keeps OpenVINO's fused attention and avoids int8 FullyConnected that is not faster without VNNI.
    int8_scope: str = "auto"
    extra: tuple = field(default=())  # (key, value) pairs for methods added later
    # Controls are deliberately broken variants that prove the quality metrics can tell; not in "all".
    control: bool = False
    noise: float = 0.0  # relative std of the noise a "perturb" control adds to UNet weights

    def resolved(self) -> "Recipe":
        vnni = has_int8_dot_product()
        changes = {}
        if self.overflow_fix == "auto":
            changes["overflow_fix"] = "disable" if vnni else "enable"
        if self.int8_scope == "auto":
            changes["int8_scope"] = "all" if vnni else "conv-only"
        return replace(self, **changes)

    def key_material(self) -> dict:
        """What decides the artifact's content (the one-line summary does not)."""
        data = asdict(self.resolved())
        data.pop("summary")
        if self.method != "ptq":  # knobs a method ignores must not split the cache
            for unused in ("calibration_prompts", "calibration_steps", "overflow_fix", "int8_scope"):
                data.pop(unused)
        if self.method != "perturb":
            data.pop("noise")
        if not self.control:
            data.pop("control")
        return data

    def with_options(self, **options) -> "Recipe":
        unknown = set(options) - set(self.__dataclass_fields__)
        if unknown:
            raise UnknownName("recipe option", sorted(unknown)[0], self.__dataclass_fields__)
        return replace(self, **options)


REGISTRY: dict[str, Recipe] = {}


def default_variants() -> tuple:
    """What `--variants all` means: every registered variant except the controls."""
    return tuple(name for name, recipe in REGISTRY.items() if not recipe.control)


def register(recipe: Recipe) -> Recipe:
    REGISTRY[recipe.name] = recipe
    return recipe


def get(name: str) -> Recipe:
    if name not in REGISTRY:
        raise UnknownName("variant", name, REGISTRY)
    return REGISTRY[name]


register(Recipe("torch-fp32", "PyTorch FP32 diffusers pipeline: the baseline", runtime="torch"))
register(Recipe("ov-fp32", "OpenVINO IR of every component, FP32, static shapes", runtime="openvino",
                base="torch-fp32"))
register(Recipe("ov-int8-ptq", "OpenVINO FP32 pipeline with an NNCF post-training int8 UNet (weights and "
                "activations, calibrated on recorded UNet inputs)", runtime="openvino", method="ptq",
                base="ov-fp32", weights="int8", activations="int8"))
register(Recipe("ov-int8-weights", "OpenVINO pipeline with int8 weights (UNet, text encoder, VAE), "
                "float activations", runtime="openvino", method="weights-only", base="ov-fp32", weights="int8"))
register(Recipe("ov-int8-ptq-full", "as ov-int8-ptq but int8 activations on every op NNCF picks (MatMuls "
                "included): the choice for CPUs with VNNI/AMX, measured against the conv-only default",
                runtime="openvino", method="ptq", base="ov-fp32", weights="int8", activations="int8",
                int8_scope="all"))
register(Recipe("ov-fp32-noised", "control: ov-fp32 with Gaussian noise (20% of each weight tensor's std) added "
                "to the UNet weights; a good quality metric must rank it clearly worse", runtime="openvino",
                method="perturb", base="ov-fp32", control=True, noise=0.2))
