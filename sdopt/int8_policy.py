"""Which ops get int8 activations, and how NNCF is set up for them: one policy for PTQ (on the IR) and QAT (on
the torch UNet), so that a recipe's `int8_scope` and `overflow_fix` mean the same on both paths."""
import logging
from contextlib import contextmanager

# Ops kept in float by `conv-only`, in each graph's vocabulary. SDPA too: NNCF quantizes its query and key
# inputs, and OpenVINO then splits the fused attention into an int8 MatMul, a float Softmax and a MatMul, which
# is slower on AVX2; int8 FullyConnected is not faster than float without VNNI either.
FLOAT_OPS = {"openvino": ["MatMul", "ScaledDotProductAttention"],
             "torch": ["linear", "matmul", "bmm", "baddbmm", "scaled_dot_product_attention"]}


def ignored_scope(recipe, graph: str):
    """None (NNCF picks every op it can) or the scope `conv-only` leaves in float, for an "openvino" or "torch"
    graph. Torch op types absent from a model must not fail, hence validate=False there."""
    import nncf
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
    if graph == "torch" or recipe.int8_scope == "conv-only":
        advanced.smooth_quant_alphas = AdvancedSmoothQuantParameters(matmul=-1)
    return advanced


def quantize(model, samples: list, recipe, graph: str, model_type="transformer"):
    """nncf.quantize under this policy, on every sample given; `model_type` None for convolutional networks."""
    import nncf
    with quiet_nncf():
        return nncf.quantize(model, nncf.Dataset(samples), model_type=model_type and nncf.ModelType(model_type),
                             subset_size=len(samples), ignored_scope=ignored_scope(recipe, graph),
                             advanced_parameters=advanced_parameters(recipe, graph))


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
