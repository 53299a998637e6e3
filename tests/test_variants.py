"""The tiny variants, built once per session: each is what its recipe says, and all run the same way."""
import collections

import numpy as np
import pytest
import torch

import sdopt
from explicit_recipes import CONV_ONLY_PTQ
from sdopt.cache import verify
from sdopt.backends import open_variant
from sdopt.sources import safe_name


def _op_counts(folder):
    import openvino as ov
    model = ov.Core().read_model(folder / "unet" / "openvino_model.xml")
    return collections.Counter(op.get_type_name() for op in model.get_ops())


def _constant_types(folder, component="unet"):
    import openvino as ov
    model = ov.Core().read_model(folder / component / "openvino_model.xml")
    return collections.Counter(op.get_output_element_type(0).get_type_name() for op in model.get_ops()
                               if op.get_type_name() == "Constant")


def test_every_variant_is_a_complete_artifact(tiny_artifacts):
    for name, folder in tiny_artifacts.items():
        manifest = verify(folder)
        assert manifest["name"].startswith(safe_name(name)) and manifest["material"]["recipe"]["name"] == name


def test_conv_only_ptq_quantizes_the_unet_activations_but_keeps_attention_fused(tiny_artifacts):
    fp32, ptq = _op_counts(tiny_artifacts["ov-fp32"]), _op_counts(tiny_artifacts[CONV_ONLY_PTQ])
    assert fp32["FakeQuantize"] == 0 and ptq["FakeQuantize"] > 20
    assert ptq["ScaledDotProductAttention"] == fp32["ScaledDotProductAttention"] > 0
    # the only new Multiply ops dequantize int8 conv weights: no SmoothQuant scaling in front of float MatMuls
    assert ptq["Multiply"] <= fp32["Multiply"] + fp32["Convolution"]


def test_full_ptq_also_quantizes_matmuls_and_shares_calibration(tiny_artifacts, shared_cache):
    conv_only, full = _op_counts(tiny_artifacts[CONV_ONLY_PTQ]), _op_counts(tiny_artifacts["ov-int8-ptq-full"])
    assert full["FakeQuantize"] > conv_only["FakeQuantize"]
    # recorded once from this ov-fp32 build, used by all (ToMe variants record their own from ov-tome-fp32);
    # a kept cache may also hold sets recorded from older ov-fp32 builds, which name their own base
    base = tiny_artifacts["ov-fp32"].name
    assert len(list((shared_cache.root / "calibration").glob(f"unet-{base}-*"))) == 1


def test_default_ptq_is_what_this_machines_recipe_resolves_to(tiny_artifacts):
    """ov-int8-ptq's `auto` scope: full int8 where the ISA has int8 dot products, conv-only where it has not."""
    resolved = sdopt.get_recipe("ov-int8-ptq").resolved()
    built = verify(tiny_artifacts["ov-int8-ptq"])["material"]["recipe"]
    assert (built["int8_scope"], built["overflow_fix"]) == (resolved.int8_scope, resolved.overflow_fix)
    twin = "ov-int8-ptq-full" if resolved.int8_scope == "all" else CONV_ONLY_PTQ
    assert _op_counts(tiny_artifacts["ov-int8-ptq"]) == _op_counts(tiny_artifacts[twin])


def test_weight_only_variant_stores_int8_weights_everywhere(tiny_artifacts):
    for component in ("unet", "text_encoder", "vae_decoder"):
        types = _constant_types(tiny_artifacts["ov-int8-weights"], component)
        assert types["u8"] + types["i8"] > 0, f"{component}: {types}"
    assert _op_counts(tiny_artifacts["ov-int8-weights"])["FakeQuantize"] == 0


def test_build_reuses_the_cache(shared_cache, tiny_artifacts):
    assert sdopt.build("ov-int8-ptq", "tiny", cache=shared_cache) == tiny_artifacts["ov-int8-ptq"]


@pytest.fixture(scope="module")
def opened(tiny_artifacts):
    return {name: open_variant(tiny_artifacts[name]) for name in ("torch-fp32", "ov-fp32", "ov-int8-ptq")}


def test_openvino_fp32_matches_pytorch_from_the_same_latents(opened):
    call = dict(prompt="a cartoon bird", steps=3, scheduler="euler", seed=7, height=128, width=128)
    torch_out, ov_out = opened["torch-fp32"].generate(**call), opened["ov-fp32"].generate(**call)
    assert float((torch_out.latents - ov_out.latents).abs().max()) < 1e-3
    difference = np.abs(np.asarray(torch_out.images[0], float) - np.asarray(ov_out.images[0], float))
    assert difference.mean() < 1.0  # in 0..255 pixel levels


def test_int8_changes_the_result_a_little(opened):
    call = dict(prompt="a cartoon bird", steps=3, scheduler="euler", seed=7, height=128, width=128)
    fp32, int8 = opened["ov-fp32"].generate(**call).latents, opened["ov-int8-ptq"].generate(**call).latents
    relative = float((fp32 - int8).norm() / fp32.norm())
    assert 0 < relative < 0.5


@pytest.mark.parametrize("variant", ["ov-fp32", "torch-deepcache"])  # the pipeline's loop, then the project's own
def test_latents_only_skips_the_vae_decode_and_keeps_the_same_latents(opened, shared_cache, variant):
    """What calibration records with: no images, no decoder call, the very latents of a full generation."""
    pipeline = opened.get(variant) or open_variant(sdopt.build(variant, "tiny", cache=shared_cache))
    decoded = []

    def count(name, method):
        return (lambda *args, **kwargs: decoded.append(name) or method(*args, **kwargs)) if name == "vae_decode" \
            else method
    call = dict(prompt="a cartoon bird", steps=3, scheduler="euler", seed=7, height=128, width=128, wrap=count)
    full = pipeline.generate(**call)
    assert decoded == ["vae_decode"] and full.images
    latents_only = pipeline.generate(**call, decode=False)
    assert decoded == ["vae_decode"] and latents_only.images == []
    assert torch.equal(latents_only.latents, full.latents)


@pytest.mark.parametrize("scheduler", sorted(sdopt.schedulers.SCHEDULERS))
def test_every_scheduler_runs_on_openvino(opened, scheduler):
    out = opened["ov-fp32"].generate("a lighthouse", 2, scheduler, 0, 128, 128)
    assert out.images[0].size == (128, 128) and np.isfinite(out.latents.numpy()).all()


def test_static_shapes_refuse_another_resolution(opened):
    with pytest.raises(sdopt.BadArgument, match="static shapes for 128x128"):
        opened["ov-fp32"].generate("x", 2, "euler", 0, 256, 256)


@pytest.mark.parametrize("steps, size, message", [(0, 128, "steps must be at least 1"),
                                                  (2, 100, "not a positive multiple of 8")])
def test_bad_generation_arguments(opened, steps, size, message):
    with pytest.raises(sdopt.BadArgument, match=message):
        opened["torch-fp32"].generate("x", steps, "euler", 0, size, size)
