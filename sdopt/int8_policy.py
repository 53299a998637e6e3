"""Which ops get int8 activations, and how NNCF is set up for them: one policy for PTQ (on the IR) and QAT (on
the torch UNet), so that a recipe's `int8_scope` and `overflow_fix` mean the same on both paths."""
import logging
from contextlib import contextmanager

# Ops kept in float by `conv-only`, in each graph's vocabulary. SDPA too: NNCF quantizes its query and key
# inputs, and OpenVINO then splits the fused attention into an int8 MatMul, a float Softmax and a MatMul, which
# is slower on AVX2; int8 FullyConnected is not faster than float without VNNI either.
FLOAT_OPS = {"openvino": ["MatMul", "ScaledDotProductAttention"],
             "torch": ["linear", "matmul", "bmm", "baddbmm", "scaled_dot_product_attention"]}


def ignored_scope(recipe, graph: str, weighted_matmuls=()):
    """None (NNCF picks every op it can) or the scope `conv-only` leaves in float, for an "openvino" or "torch"
    graph; `hybrid` leaves the MatMuls whose weights it compressed (and fused attention) without int8 activations.
    Torch op types absent from a model must not fail, hence validate=False there."""
    import nncf
    if recipe.int8_scope == "hybrid":
        return nncf.IgnoredScope(names=list(weighted_matmuls), types=["ScaledDotProductAttention"], validate=False)
    if recipe.int8_scope != "conv-only":
        return None
    if graph == "torch":
        return nncf.IgnoredScope(types=FLOAT_OPS["torch"], validate=False)
    return nncf.IgnoredScope(types=FLOAT_OPS["openvino"])


def advanced_parameters(recipe, graph: str):
    """The overflow fix the recipe resolved to. SmoothQuant only in PTQ with int8 MatMuls, the ops it serves: on
    float ones it would just add a Multiply per input. QAT starts without it and trains its ranges instead."""
    from nncf.quantization.advanced_parameters import (AdvancedQuantizationParameters,
                                                       AdvancedSmoothQuantParameters, OverflowFix)
    advanced = AdvancedQuantizationParameters(overflow_fix=OverflowFix(recipe.overflow_fix))
    if graph == "torch" or recipe.int8_scope in ("conv-only", "hybrid"):
        advanced.smooth_quant_alphas = AdvancedSmoothQuantParameters(matmul=-1)
    return advanced


def quantize(model, samples: list, recipe, graph: str, model_type="transformer"):
    """nncf.quantize under this policy, on every sample given; `model_type` None for convolutional networks.
    `hybrid` (OpenVINO graphs only) is optimum-intel's scheme for diffusion models: int8 weights alone for the
    MatMuls first, then int8 weights and activations for the rest, calibrated on the compressed model. NNCF then
    never holds the FP32 MatMul weights twice (SmoothQuant's rewrite and a compiled copy for statistics), which
    is what full int8 of an SDXL-size UNet runs out of memory on."""
    import nncf
    weighted = ()
    if recipe.int8_scope == "hybrid":
        weighted = weighted_matmuls(model)
        with quiet_nncf():
            model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM,
                                          ignored_scope=nncf.IgnoredScope(types=["Convolution"], validate=False))
    with quiet_nncf():
        return nncf.quantize(model, nncf.Dataset(samples), model_type=model_type and nncf.ModelType(model_type),
                             subset_size=len(samples), ignored_scope=ignored_scope(recipe, graph, weighted),
                             advanced_parameters=advanced_parameters(recipe, graph))


def weighted_matmuls(model) -> list[str]:
    """Names of the MatMuls with a constant operand (linear layers, not attention's two activations), found
    through the Convert/Reshape an exporter may put between the constant and the MatMul."""
    def constant_behind(value) -> bool:
        node = value.get_node()
        while node.get_type_name() in ("Convert", "Reshape", "Transpose"):
            node = node.input_value(0).get_node()
        return node.get_type_name() == "Constant"
    return [op.get_friendly_name() for op in model.get_ops()
            if op.get_type_name() == "MatMul" and any(constant_behind(v) for v in op.input_values())]


@contextmanager
def quiet_nncf():
    """NNCF at WARNING: one INFO line per ignored op would bury the build's progress."""
    import nncf
    previous = nncf.common.logging.nncf_logger.level
    nncf.set_log_level(logging.WARNING)
    try:
        yield
    finally:
        nncf.set_log_level(previous)
