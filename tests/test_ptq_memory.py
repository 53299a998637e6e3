"""Post-training int8 that fits the machine: the hybrid scope (int8 weights alone for the MatMuls, full int8 for
the rest), chosen by `auto` where full int8 of the UNet would not fit in memory, and an explicit scope that would
not fit refused before anything is built."""
import collections

import pytest

import sdopt
from sdopt import ptq_memory, recipes, sources
from sdopt.backends import open_variant
from sdopt.build import for_source, materialize
from sdopt.int8_policy import weighted_matmuls

HYBRID = "ov-int8-ptq[int8_scope=hybrid]"


def _read(folder, component="unet"):
    import openvino as ov
    return ov.Core().read_model(folder / component / "openvino_model.xml")


def _fed_by(op, kind: str) -> bool:
    """Does an input of `op` come from a `kind` op, through the weight decompression chain?"""
    def reaches(node, depth=0) -> bool:
        if node.get_type_name() == kind:
            return True
        return depth < 4 and node.get_type_name() in ("Convert", "Subtract", "Multiply", "Reshape") and any(
            reaches(v.get_node(), depth + 1) for v in node.input_values())
    return any(reaches(v.get_node()) for v in op.input_values())


def test_hybrid_gives_linear_layers_int8_weights_only_and_convolutions_int8_activations(tiny_artifacts,
                                                                                      shared_cache):
    names = set(weighted_matmuls(_read(tiny_artifacts["ov-fp32"])))
    model = _read(sdopt.build(HYBRID, "tiny", cache=shared_cache))
    ops = {op.get_friendly_name(): op for op in model.get_ops()}
    counts = collections.Counter(op.get_type_name() for op in model.get_ops())
    assert names and names <= set(ops)
    for name in names:  # weights from u8 constants, activations not fake-quantized
        assert not _fed_by(ops[name], "FakeQuantize"), name
        weight = [v.get_node() for v in ops[name].input_values() if v.get_node().get_type_name() != "Parameter"]
        assert any(_fed_by(node, "Constant") for node in weight), name
    u8 = [op for op in model.get_ops() if op.get_type_name() == "Constant" and
          op.get_output_element_type(0).get_type_name() in ("u8", "i8")]
    assert len(u8) >= len(names)
    convolutions = [op for op in model.get_ops() if op.get_type_name() == "Convolution"]
    assert sum(_fed_by(op, "FakeQuantize") for op in convolutions) > len(convolutions) // 2
    full = collections.Counter(op.get_type_name() for op in _read(tiny_artifacts["ov-int8-ptq-full"]).get_ops())
    assert 0 < counts["FakeQuantize"] < full["FakeQuantize"]
    assert counts["ScaledDotProductAttention"] > 0  # attention stays fused


def test_hybrid_draws_close_to_fp32(tiny_artifacts, shared_cache):
    call = dict(prompt="a cartoon bird", steps=3, scheduler="euler", seed=7, height=128, width=128)
    fp32 = open_variant(tiny_artifacts["ov-fp32"]).generate(**call).latents
    hybrid = open_variant(sdopt.build(HYBRID, "tiny", cache=shared_cache)).generate(**call).latents
    assert 0 < float((fp32 - hybrid).norm() / fp32.norm()) < 0.5


def test_the_unet_size_read_from_its_config_is_its_weights_files_size(shared_cache):
    """The rule's input, counted from the config on the meta device, against the bytes torch wrote."""
    for model in ("tiny", "tiny-sdxl"):
        source = sources.resolve(model)
        folder = materialize(source, shared_cache)
        written = sum(p.stat().st_size for p in (folder / "unet").glob("*.safetensors"))
        counted = ptq_memory.unet_fp32_bytes(source.unet_config)
        assert counted <= written < counted * 1.01 + 100_000, model


def test_auto_takes_hybrid_where_full_int8_would_not_fit_and_an_explicit_scope_is_refused(monkeypatch, tmp_path):
    tiny = sources.resolve("tiny")
    isa_choice = recipes.get("ov-int8-ptq").resolved().int8_scope
    assert for_source(recipes.get("ov-int8-ptq"), tiny).resolved().int8_scope == isa_choice  # room to spare
    between = (ptq_memory.needed("hybrid", tiny.unet_config) + ptq_memory.needed(isa_choice, tiny.unet_config)) // 2
    monkeypatch.setattr(ptq_memory, "machine_memory", lambda: between)
    assert for_source(recipes.get("ov-int8-ptq"), tiny).int8_scope == "hybrid"
    assert sdopt.build_refusal("ov-int8-ptq", tiny) is None
    cache = sdopt.Cache(tmp_path / "cache")
    with pytest.raises(sdopt.BadArgument, match=f"int8_scope={isa_choice} of this UNet.*int8_scope=hybrid"):
        sdopt.build(f"ov-int8-ptq[int8_scope={isa_choice}]", "tiny", cache=cache)
    assert not any((tmp_path / "cache").rglob("*.xml"))  # refused before anything was built
    monkeypatch.setattr(ptq_memory, "machine_memory", lambda: ptq_memory.needed("hybrid", tiny.unet_config) - 1)
    assert "ov-int8-weights needs no calibration" in sdopt.build_refusal("ov-int8-ptq", tiny)
    assert sdopt.build_refusal("ov-int8-weights", tiny) is None


def test_qat_refuses_the_hybrid_scope():
    with pytest.raises(sdopt.BadArgument, match="post-training scheme"):
        sdopt.get_recipe("ov-int8-qat[int8_scope=hybrid]")


def test_weight_only_int8_reaches_every_text_encoder(shared_cache):
    folder = sdopt.build("ov-int8-weights", "tiny-sdxl-turbo", cache=shared_cache)
    for component in ("unet", "text_encoder", "text_encoder_2", "vae_decoder"):
        types = collections.Counter(op.get_output_element_type(0).get_type_name()
                                    for op in _read(folder, component).get_ops() if op.get_type_name() == "Constant")
        assert types["u8"] + types["i8"] > 0, f"{component}: {types}"
