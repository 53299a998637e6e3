"""Token merging: the decisions match a plain re-statement of the algorithm, it takes effect by the ratio in
PyTorch and in the IR, torch and OpenVINO agree, and ratio 0 changes nothing."""
import copy

import openvino as ov
import pytest
import torch

import sdopt
from sdopt import recipes
from sdopt.build import base_spec
from sdopt.cache import key_of as cache_key, read_manifest
from sdopt.errors import BadArgument
from sdopt.tome import TOME_MAX_RATIO, apply_tome, merge_plan

SIZE = (128, 128)
HIGHEST = (SIZE[0] // 8) * (SIZE[1] // 8)  # tokens in the highest-resolution blocks of the tiny UNet


def plain_matches(tokens: torch.Tensor, height: int, width: int, r: int):
    """Destinations (top-left of each 2x2 cell), each source's most similar destination by cosine, and the
    sources ranked by that similarity split into the r merged and the kept."""
    dst = [i for i in range(height * width) if (i // width) % 2 == 0 and (i % width) % 2 == 0]
    src = [i for i in range(height * width) if i not in dst]
    unit = tokens / tokens.norm(dim=-1, keepdim=True)
    best = {s: max(dst, key=lambda d: float(unit[s] @ unit[d])) for s in src}
    ranked = sorted(src, key=lambda s: -float(unit[s] @ unit[best[s]]))
    return dst, best, ranked[:r], ranked[r:]


def plain_merge(x: torch.Tensor, height: int, width: int, r: int, values: torch.Tensor | None = None) -> torch.Tensor:
    """Token by token: destinations are the top-left token of each 2x2 cell; every other token finds its
    most similar destination by cosine (on x); the r best-matching sources are averaged into their
    destinations (the tokens of `values`, x itself unless given)."""
    out = []
    for tokens, merged_values in zip(x, x if values is None else values):
        dst, best, merged, kept = plain_matches(tokens, height, width, r)
        rows = [merged_values[s] for s in kept]
        for d in dst:
            group = [merged_values[d]] + [merged_values[s] for s in merged if best[s] == d]
            rows.append(torch.stack(group).mean(0))
        out.append(torch.stack(rows))
    return torch.stack(out)


def test_merge_decisions_match_a_plain_restatement():
    torch.manual_seed(0)
    x = torch.randn(2, 64, 16)
    for r in (0, 5, 20, 48):
        merge, unmerge = merge_plan(x, 8, 8, r)
        merged = merge(x)
        assert merged.shape == (2, 64 - r, 16)
        torch.testing.assert_close(merged, plain_merge(x, 8, 8, r), rtol=1e-5, atol=1e-6)
        restored = unmerge(merged)
        torch.testing.assert_close(restored, plain_unmerge(x, 8, 8, r), rtol=1e-5, atol=1e-6)
        if r == 0:
            torch.testing.assert_close(restored, x)


def plain_unmerge(x: torch.Tensor, height: int, width: int, r: int) -> torch.Tensor:
    """After merge and unmerge, a token holds its own value if it stayed, else its group's average."""
    out = x.clone()
    for b, tokens in enumerate(x):
        dst, best, merged, _ = plain_matches(tokens, height, width, r)
        for d in dst:
            group = [d] + [s for s in merged if best[s] == d]
            out[b, group] = tokens[group].mean(0)
    return out


@pytest.fixture(scope="module")
def unet(shared_cache):
    from diffusers import UNet2DConditionModel
    folder = sdopt.build("torch-fp32", "tiny", cache=shared_cache)
    return UNet2DConditionModel.from_pretrained(folder / "unet").eval()


def _inputs(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 4, SIZE[0] // 8, SIZE[1] // 8, generator=generator), torch.tensor([500]),
            torch.randn(2, 77, 64, generator=generator))


def test_ratio_zero_is_identical_and_the_ratio_sets_the_tokens(unet):
    x = _inputs()
    with torch.no_grad():
        plain = unet(*x, return_dict=False)[0]
        zero = copy.deepcopy(unet)
        apply_tome(zero, 0.0)
        assert torch.equal(zero(*x, return_dict=False)[0], plain)
        for ratio in (0.2, 0.4, 0.6, TOME_MAX_RATIO):
            merged_unet = copy.deepcopy(unet)
            wrappers = apply_tome(merged_unet, ratio)
            output = merged_unet(*x, return_dict=False)[0]
            counts = {(w.tokens_in, w.tokens_out) for w in wrappers}
            assert (HIGHEST, HIGHEST - int(HIGHEST * ratio)) in counts  # merged where it should be
            assert all(out == tokens for tokens, out in counts if tokens < HIGHEST)  # untouched below
            assert not torch.equal(output, plain)
    with pytest.raises(ValueError, match="outside"):
        apply_tome(copy.deepcopy(unet), 0.8)


def test_one_plan_per_block_from_its_input_serves_every_merged_layer(unet):
    """tomesd's design: the decision is made once per block on the block's input, and self-attention,
    cross-attention and the MLP each merge their own (normalized) input by it."""
    from diffusers.models.attention import BasicTransformerBlock
    merged_unet = copy.deepcopy(unet)
    wrappers = apply_tome(merged_unet, 0.5, max_downsample=2, mlp=True, crossattn=True)
    block = next(m for m in merged_unet.modules() if isinstance(m, BasicTransformerBlock))
    seen = {}

    def keep_input(name):
        def hook(module, args, kwargs):
            seen.setdefault(name, args[0] if args else kwargs["hidden_states"])
        return hook
    block.register_forward_pre_hook(keep_input("block"), with_kwargs=True)
    for name in ("attn1", "attn2", "ff"):
        getattr(block, name).inner.register_forward_pre_hook(keep_input(name), with_kwargs=True)
    with torch.no_grad():
        merged_unet(*_inputs(), return_dict=False)
    x = seen["block"]
    side, r = int(x.shape[1] ** 0.5), int(x.shape[1] * 0.5)
    torch.testing.assert_close(seen["attn1"], plain_merge(x, side, side, r, values=block.norm1(x)),
                               rtol=1e-4, atol=1e-5)
    assert seen["attn2"].shape[1] == seen["ff"].shape[1] == x.shape[1] - r
    # every level down to max_downsample=2 merged, in all three layers; the level below passes through
    counts = {(w.tokens_in, w.tokens_out) for w in wrappers}
    assert {(HIGHEST, HIGHEST - HIGHEST // 2), (HIGHEST // 4, HIGHEST // 4 - HIGHEST // 8)} <= counts
    assert len(wrappers) == 3 * sum(isinstance(m, BasicTransformerBlock) for m in merged_unet.modules())


def test_int8_recipes_at_any_ratio_calibrate_on_the_unmerged_pipelines_inputs(tiny_artifacts):
    from sdopt.artifacts import without_token_merging
    assert without_token_merging(tiny_artifacts["ov-tome-fp32"]) == tiny_artifacts["ov-fp32"]
    assert without_token_merging(tiny_artifacts["ov-fp32"]) == tiny_artifacts["ov-fp32"]


def _attention_tokens(folder) -> set:
    model = ov.Core().read_model(folder / "unet" / "openvino_model.xml")
    return {op.input(0).get_partial_shape()[2].get_length() for op in model.get_ops()
            if op.get_type_name() == "ScaledDotProductAttention"}


def test_the_ir_attends_over_fewer_tokens(tiny_artifacts, shared_cache):
    keep = HIGHEST - int(HIGHEST * 0.4)
    assert HIGHEST in _attention_tokens(tiny_artifacts["ov-fp32"]) and keep not in _attention_tokens(
        tiny_artifacts["ov-fp32"])
    for name in ("ov-tome-fp32", "ov-tome-int8-ptq", "ov-tome-int8-qat"):
        assert keep in _attention_tokens(tiny_artifacts[name]), name  # self-attention at the top level
    sweep = sdopt.build("ov-tome-fp32[tome_ratio=0.6]", "tiny", cache=shared_cache)
    assert HIGHEST - int(HIGHEST * 0.6) in _attention_tokens(sweep)


def test_the_ir_makes_one_decision_per_block_however_many_layers_merge(shared_cache):
    def ops(spec):
        model = ov.Core().read_model(sdopt.build(spec, "tiny", cache=shared_cache) / "unet" / "openvino_model.xml")
        topk = sum(op.get_type_name() == "TopK" for op in model.get_ops())
        queries = sorted(op.input(0).get_partial_shape()[2].get_length() for op in model.get_ops()
                         if op.get_type_name() == "ScaledDotProductAttention")
        return topk, queries
    attention_only, attention_queries = ops("ov-tome-fp32[tome_max_downsample=2]")
    everything, all_queries = ops("ov-tome-fp32[tome_max_downsample=2,tome_mlp=true,tome_crossattn=true]")
    assert everything == attention_only > 0  # the similarity ranking is not repeated per merged layer
    assert sum(all_queries) < sum(attention_queries)  # cross-attention's queries are merged too


def test_torch_and_openvino_tome_agree_and_decide_per_input(tiny_artifacts):
    """Two prompts: if the IR had frozen the export example's merge decisions, they could not both agree."""
    torch_tome = sdopt.open_variant(tiny_artifacts["torch-tome"])
    ov_tome = sdopt.open_variant(tiny_artifacts["ov-tome-fp32"])
    for seed, prompt in enumerate(("a red fox in the snow", "a bowl of soup")):
        a = torch_tome.generate(prompt, 3, "euler", seed, *SIZE).latents
        b = ov_tome.generate(prompt, 3, "euler", seed, *SIZE).latents
        assert float((a - b).norm() / a.norm()) < 1e-4
    counts = {(w.tokens_in, w.tokens_out) for w in torch_tome.tome}
    assert (HIGHEST, HIGHEST - int(HIGHEST * 0.4)) in counts


def test_the_top_ratio_merges_every_source_in_the_ir_too(shared_cache):
    """At 0.75 no source token is kept; the IR once crashed OpenVINO on the zero-size tensors that left."""
    spec = f"tome_ratio={TOME_MAX_RATIO}"
    ov_tome = sdopt.open_variant(sdopt.build(f"ov-tome-fp32[{spec}]", "tiny", cache=shared_cache))
    assert HIGHEST // 4 in _attention_tokens(ov_tome.folder)  # only the destinations remain
    torch_tome = sdopt.open_variant(sdopt.build(f"torch-tome[{spec}]", "tiny", cache=shared_cache))
    a = torch_tome.generate("a bowl of soup", 2, "euler", 0, *SIZE).latents
    b = ov_tome.generate("a bowl of soup", 2, "euler", 0, *SIZE).latents
    assert float((a - b).norm() / a.norm()) < 1e-4


def test_ratio_options_reach_the_base_and_bad_ratios_are_refused(tiny_artifacts, shared_cache):
    assert base_spec(recipes.get("ov-tome-int8-ptq")).format() == "ov-tome-fp32"
    assert base_spec(recipes.get("ov-tome-int8-ptq[tome_ratio=0.6]")).format() == "ov-tome-fp32[tome_ratio=0.6]"
    assert base_spec(recipes.get("ov-int8-ptq")).format() == "ov-fp32"
    with pytest.raises(BadArgument, match="tome_ratio 0.9"):
        recipes.get("ov-tome-fp32[tome_ratio=0.9]")
    manifest = read_manifest(tiny_artifacts["ov-tome-int8-qat"])
    assert manifest["material"]["base"].startswith("ov-tome-fp32-")
    assert manifest["material"]["recipe"]["tome_ratio"] == 0.4
    # a variant that merges no tokens has no ToMe fields in its key
    assert "tome_ratio" not in sdopt.key_material(recipes.get("ov-int8-ptq"))


def test_the_default_reach_is_the_models_first_self_attention_level(shared_cache):
    """`auto` is made concrete before the key: on SD 1.x it is the same artifact as reach 1 (cached builds stay
    valid), on SDXL, whose first down block has no attention, reach 2; a reach that is neither a level nor auto
    is refused naming the choices."""
    def keyed(name, model):
        """The reach built, the base built on, and the key without the variant's own name (which names the folder)."""
        material = read_manifest(sdopt.build(name, model, cache=shared_cache))["material"]
        unnamed = material | {"recipe": {k: v for k, v in material["recipe"].items() if k != "name"}}
        return material["recipe"]["tome_max_downsample"], material["base"], cache_key(unnamed)

    assert keyed("torch-tome", "tiny")[0] == 1
    assert keyed("torch-tome", "tiny")[2] == keyed("torch-tome[tome_max_downsample=1]", "tiny")[2]
    assert keyed("torch-tome", "tiny-sdxl")[0] == 2
    assert keyed("torch-tome", "tiny-sdxl")[2] == keyed("torch-tome[tome_max_downsample=2]", "tiny-sdxl")[2]
    assert keyed("torch-tome", "tiny-sdxl")[1].startswith("torch-fp32-")  # the base as registered, no options
    with pytest.raises(BadArgument, match="tome_max_downsample=3 is not one of auto, 1, 2, 4, 8"):
        recipes.get("torch-tome[tome_max_downsample=3]")
