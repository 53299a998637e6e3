"""Step caching: the full graph is the UNet plus one output, the shallow graph given that output reproduces the
full prediction exactly at the same inputs, it runs far fewer layers, and bad options are refused."""
import functools

import numpy as np
import pytest
import torch

from sdopt.deepcache import FullUNet, ShallowUNet, branches, check_deepcache, is_full_step
from sdopt.errors import BadArgument
from sdopt.schedulers import SCHEDULERS
from sdopt.sources import BUILTINS
from sdopt.tome import apply_tome


def tiny_unet(seed=0, layers_per_block=1):
    from diffusers import UNet2DConditionModel
    torch.manual_seed(seed)
    config = {**BUILTINS["tiny"].unet, "layers_per_block": layers_per_block}
    return UNet2DConditionModel(**config).eval()


def inputs(seed=1, batch=2):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 4, 16, 16, generator=generator), torch.tensor(500),
            torch.randn(batch, 77, 64, generator=generator))


@pytest.mark.parametrize("layers_per_block", [1, 2])
def test_shallow_with_the_full_calls_feature_reproduces_the_full_prediction(layers_per_block):
    unet = tiny_unet(layers_per_block=layers_per_block)
    sample, timestep, text = inputs()
    with torch.no_grad():
        plain = unet(sample, timestep, text, return_dict=False)[0]
        for branch in range(branches(unet)):
            noise, feature = FullUNet(unet, branch)(sample, timestep, text)
            torch.testing.assert_close(noise, plain, rtol=0, atol=0)
            assert feature.shape[0] == 2 and feature.shape[-2:] == (16, 16)
            shallow = ShallowUNet(unet, branch)(sample, timestep, text, feature)
            torch.testing.assert_close(shallow, plain, rtol=1e-5, atol=1e-6)
            # The feature matters: another step's feature gives another prediction.
            other = ShallowUNet(unet, branch)(sample, timestep, text, torch.randn_like(feature))
            assert (other - plain).abs().max() > 1e-3


def test_shallow_reproduces_the_full_prediction_under_token_merging():
    unet = tiny_unet()
    apply_tome(unet, 0.5, max_downsample=1)
    sample, timestep, text = inputs()
    with torch.no_grad():
        plain = unet(sample, timestep, text, return_dict=False)[0]
        noise, feature = FullUNet(unet)(sample, timestep, text)
        shallow = ShallowUNet(unet)(sample, timestep, text, feature)
    torch.testing.assert_close(noise, plain, rtol=0, atol=0)
    torch.testing.assert_close(shallow, plain, rtol=1e-5, atol=1e-6)


def test_the_shallow_branch_runs_a_few_of_the_unets_layers():
    unet = tiny_unet()
    ran = set()
    for name, module in unet.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            module.register_forward_hook(lambda m, a, o, name=name: ran.add(name))
    sample, timestep, text = inputs()
    with torch.no_grad():
        noise, feature = FullUNet(unet)(sample, timestep, text)
        full = set(ran)
        ran.clear()
        ShallowUNet(unet)(sample, timestep, text, feature)
    assert ran < full and len(ran) < 0.25 * len(full), (len(ran), len(full))
    assert not any(name.startswith(("mid_block", "down_blocks.1", "up_blocks.0")) for name in ran)
    assert {"conv_in", "conv_out"} <= ran


def test_schedule_and_bad_options():
    assert [is_full_step(step, 3) for step in range(7)] == [True, False, False, True, False, False, True]
    assert all(is_full_step(step, 1) for step in range(4))
    check_deepcache(3, 0, available=2, steps=20)
    for interval, branch, message in ((0, 0, "at least 1"), (2.5, 0, "whole number"), (21, 0, "above the 20"),
                                      (3, 2, "0 to 1"), (3, -1, "0 to 1")):
        with pytest.raises(BadArgument, match=message):
            check_deepcache(interval, branch, available=2, steps=20)


@pytest.fixture(scope="module")
def tiny_images(shared_cache):
    """prompt, steps, scheduler -> images of torch-fp32 and of step-cached variants, from one open of each."""
    import sdopt
    from sdopt.backends import open_variant
    opened = {}

    def get(variant, scheduler="pndm", steps=6):
        if variant not in opened:
            opened[variant] = open_variant(sdopt.build(variant, "tiny", cache=shared_cache))
        calls = {}
        wrap = lambda name, method: _counted(calls, name, method)
        made = opened[variant].generate("a red circle", steps, scheduler, 0, 128, 128, on_step=None, wrap=wrap)
        return np.asarray(made.images[0], dtype=np.float64), calls
    return get


def _counted(calls, name, method):
    @functools.wraps(method)  # as bench's timers: the scheduler's signature says whether it gets the generator
    def counted(*args, **kwargs):
        calls[name] = calls.get(name, 0) + 1
        return method(*args, **kwargs)
    return counted


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_the_own_loop_with_every_step_full_draws_the_pipelines_image(tiny_images, scheduler):
    reference, reference_calls = tiny_images("torch-fp32", scheduler)
    every_step, calls = tiny_images("torch-deepcache[cache_interval=1]", scheduler)
    np.testing.assert_allclose(every_step, reference, atol=1.0)  # uint8 images: at most one level apart
    assert calls["unet"] == reference_calls["unet"] and calls.get("unet_shallow", 0) == 0


def test_step_caching_runs_the_full_unet_on_schedule_and_the_shallow_branch_between(tiny_images):
    reference, reference_calls = tiny_images("torch-fp32", "euler")
    cached, calls = tiny_images("torch-deepcache", "euler")  # interval 3 over 6 steps: full at 0 and 3
    assert calls["unet"] == 2 and calls["unet_shallow"] == 4 and calls["scheduler_step"] == 6
    assert 0 < np.abs(cached - reference).mean() < 40  # another image, yet the same picture


def test_an_interval_above_the_step_count_is_refused_before_generating(shared_cache):
    import sdopt
    from sdopt.backends import open_variant
    variant = open_variant(sdopt.build("torch-deepcache[cache_interval=5]", "tiny", cache=shared_cache))
    with pytest.raises(BadArgument, match="above the 4 denoising steps"):
        variant.generate("a red circle", 4, "euler", 0, 128, 128)
    with pytest.raises(BadArgument, match="cache_interval must be"):
        sdopt.build("torch-deepcache[cache_interval=0]", "tiny", cache=shared_cache)
    with pytest.raises(BadArgument, match="cache_branch must be 0 to 1"):
        sdopt.build("torch-deepcache[cache_branch=2]", "tiny", cache=shared_cache)


def test_openvino_runs_the_two_irs_and_agrees_with_torch(tiny_images):
    in_torch, _ = tiny_images("torch-deepcache", "euler")
    in_openvino, calls = tiny_images("ov-deepcache-fp32", "euler")
    assert calls["unet"] == 2 and calls["unet_shallow"] == 4
    assert np.abs(in_openvino - in_torch).mean() < 0.05  # uint8 levels: the same image up to float rounding


def _ops(path):
    import openvino as ov
    ops = {}
    for op in ov.Core().read_model(path).get_ops():
        ops[op.get_type_name()] = ops.get(op.get_type_name(), 0) + 1
    return ops


def test_the_shallow_ir_is_a_small_part_of_the_full_one_and_int8_reaches_both(tiny_artifacts):
    from sdopt.deepcache import SHALLOW_UNET
    from sdopt.ir import IR
    fp32, int8 = tiny_artifacts["ov-deepcache-fp32"], tiny_artifacts["ov-deepcache-int8-ptq"]
    full, shallow = _ops(fp32 / "unet" / IR), _ops(fp32 / SHALLOW_UNET / IR)
    assert shallow["Convolution"] < 0.25 * full["Convolution"], (shallow["Convolution"], full["Convolution"])
    assert sum(shallow.values()) < 0.3 * sum(full.values())
    for graph in ("unet", SHALLOW_UNET):
        assert _ops(int8 / graph / IR).get("FakeQuantize", 0) > 0 and "FakeQuantize" not in _ops(fp32 / graph / IR)


def test_a_runtime_whose_loop_cannot_switch_graphs_refuses_a_step_caching_artifact(tiny_artifacts):
    from sdopt.backends.base import Variant
    from sdopt.backends.openvino_backend import OpenVINOVariant

    class FixedLoop(OpenVINOVariant):  # a runtime that runs one UNet graph per step, as a compiled C++ loop does
        runtime = "fixed-loop"
        _step_graphs = Variant._step_graphs

    with pytest.raises(BadArgument, match="the fixed-loop runtime cannot switch graphs between steps"):
        FixedLoop(tiny_artifacts["ov-deepcache-fp32"])
    assert FixedLoop(tiny_artifacts["ov-fp32"]).step_cache is None  # a plain artifact opens
