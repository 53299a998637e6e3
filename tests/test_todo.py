"""Token downsampling: keys and values come from the strided grid in the blocks it reaches, queries keep every
token, the IR's attention sees the shorter keys, torch and OpenVINO agree, and bad options are refused."""
import numpy as np
import pytest
import torch

import sdopt
from sdopt.errors import BadArgument
from sdopt.todo import apply_todo

from test_deepcache import inputs, tiny_unet


def test_keys_and_values_come_from_the_strided_grid_where_todo_reaches():
    unet = tiny_unet()
    wrappers = apply_todo(unet, factor=2, max_downsample=1)
    sample, timestep, text = inputs()
    with torch.no_grad():
        unet(sample, timestep, text)
    seen = sorted({(w.queries, w.keys) for w in wrappers})
    assert seen == [(16, 16), (64, 64), (256, 64)], seen  # 16x16 tokens ask 8x8 keys; coarser blocks stay whole


def test_the_wrapped_attention_is_attention_over_the_strided_tokens():
    unet = tiny_unet()
    attention = unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1
    wrapper = apply_todo(unet, factor=2)[0]
    wrapper.latent.size = (16, 16)
    tokens = torch.randn(2, 256, attention.query_dim)
    grid = tokens.reshape(2, 16, 16, -1)
    with torch.no_grad():
        expected = attention(tokens, encoder_hidden_states=grid[:, ::2, ::2].reshape(2, 64, -1))
        torch.testing.assert_close(wrapper(tokens), expected)
        assert not torch.allclose(wrapper(tokens), attention(tokens), atol=1e-4)


def test_reaching_one_level_deeper_downsamples_those_blocks_too():
    unet = tiny_unet()
    wrappers = apply_todo(unet, factor=2, max_downsample=2)
    with torch.no_grad():
        unet(*inputs())
    assert sorted({(w.queries, w.keys) for w in wrappers}) == [(16, 16), (64, 16), (256, 64)]


def test_the_ir_attention_sees_the_downsampled_keys_and_agrees_with_torch(tiny_artifacts):
    import openvino as ov

    from sdopt.backends import open_variant
    from sdopt.ir import IR
    key_lengths = set()
    for op in ov.Core().read_model(tiny_artifacts["ov-todo-fp32"] / "unet" / IR).get_ops():
        if op.get_type_name() in ("ScaledDotProductAttention", "MatMul") and op.get_input_size() >= 2:
            query, key = (op.get_input_partial_shape(i) for i in (0, 1))
            if query.rank.get_length() >= 3 and key.rank.get_length() >= 3 and query.is_static and key.is_static:
                key_lengths.add((query.to_shape()[-2], key.to_shape()[-2]))
    assert (256, 64) in key_lengths and (256, 256) not in key_lengths, key_lengths
    images = {}
    for name in ("torch-todo", "ov-todo-fp32", "torch-fp32"):
        made = open_variant(tiny_artifacts[name]).generate("a red circle", 4, "euler", 0, 128, 128)
        images[name] = np.asarray(made.images[0], dtype=np.float64)
    assert np.abs(images["ov-todo-fp32"] - images["torch-todo"]).mean() < 0.05
    assert np.abs(images["torch-todo"] - images["torch-fp32"]).mean() > 0.05  # it did change the computation


def test_bad_options_and_a_grid_the_factor_does_not_divide_are_refused(shared_cache):
    with pytest.raises(BadArgument, match="todo_factor 3 is not one of"):
        sdopt.recipes.get("ov-todo-fp32[todo_factor=3]")
    with pytest.raises(BadArgument, match="pick one"):
        sdopt.recipes.get("ov-todo-fp32[tome_ratio=0.4]")
    before = sorted(p.name for p in (shared_cache.root / "variants").glob("*"))
    with pytest.raises(BadArgument, match="does not divide the 17x17 token grid"):
        sdopt.build("ov-todo-fp32", "tiny", resolution=136, cache=shared_cache)  # refused before its bases
    assert sorted(p.name for p in (shared_cache.root / "variants").glob("*")) == before


@pytest.mark.parametrize("name", ["ov-lcm-fp32[todo_factor=2]", "ov-int8-ptq[todo_factor=2]",
                                  "ov-fp32[tome_ratio=0.5]", "torch-deepcache[todo_factor=2]",
                                  "ov-lcm-int8-ptq[inference_precision=bf16,todo_factor=4]"])
def test_token_options_no_stage_applies_are_refused(name):
    """A variant with no stage that rewrites tokens would build unchanged under a name saying otherwise."""
    with pytest.raises(BadArgument, match="would be ignored: no stage of .* rewrites the UNet's tokens"):
        sdopt.recipes.get(name)


@pytest.mark.parametrize("name", ["ov-deepcache-int8-ptq[todo_factor=2]", "ov-todo-int8-ptq[todo_factor=4]",
                                  "ov-tome-int8-qat[tome_ratio=0.6]", "torch-todo[todo_max_downsample=1]",
                                  "ov-lcm-todo-fp32[lcm_train_steps=0,todo_factor=4]"])
def test_token_options_reach_the_stage_that_applies_them(name):
    """Through the chain: int8 PTQ over step caching converts the token-patched UNet in its base."""
    assert sdopt.recipes.get(name).name == name
