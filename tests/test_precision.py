"""inference_precision=bf16: a layer over an OpenVINO variant that the runtime compiles at bf16, read back from the
compiled models and seen in the numbers; refused where the CPU plugin has no BF16."""
import os

import pytest
import torch

import sdopt
from sdopt.artifacts import read_manifest
from sdopt.backends import open_variant, openvino_backend
from sdopt.ir import IR
from sdopt.sources import resolve

CALL = dict(prompt="a cartoon bird", steps=3, scheduler="euler", seed=7, height=128, width=128)


@pytest.fixture(scope="module")
def bf16_machine():
    reason = openvino_backend.precision_refusal("bf16")
    if reason:
        pytest.skip(reason)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("base", ["ov-fp32", "ov-int8-ptq"])
def test_bf16_compiles_every_component_at_bf16_and_moves_the_numbers_by_bf16s_rounding(
        bf16_machine, tiny_artifacts, shared_cache, base):
    folder = sdopt.build(f"{base}[inference_precision=bf16]", "tiny", cache=shared_cache)
    # a layer: the base's files, hard-linked, and the stage listed for the runtime to apply
    assert os.path.samefile(folder / "unet" / IR.replace(".xml", ".bin"),
                            tiny_artifacts[base] / "unet" / IR.replace(".xml", ".bin"))
    stage = read_manifest(folder)["stages"][-1]
    assert stage == {"stage": "inference-precision", "options": {"precision": "bf16"}, "on_open": True}
    bf16, f32 = open_variant(folder), open_variant(tiny_artifacts[base])
    used = bf16.settings_in_force()
    assert {used[name]["INFERENCE_PRECISION_HINT"] for name in ("text_encoder", "unet", "vae_decoder")} == {"bf16"}
    assert f32.settings_in_force()["unet"]["INFERENCE_PRECISION_HINT"] == "f32"
    # Measured another way: bf16 keeps 8 bits of mantissa, so the latents move off f32's by more than f32's own
    # run-to-run noise (none: the same call twice is equal) and far less than another picture (another seed).
    reference = f32.generate(**CALL).latents
    assert torch.equal(f32.generate(**CALL).latents, reference)
    another_picture = _relative(f32.generate(**CALL | {"seed": 8}).latents, reference)
    assert 1e-4 < _relative(bf16.generate(**CALL).latents, reference) < another_picture / 4


def test_genai_compiles_the_layer_at_bf16_too(bf16_machine, shared_cache):
    genai = open_variant(sdopt.build("ov-fp32[inference_precision=bf16,runtime=genai]", "tiny", cache=shared_cache))
    found = genai.settings_in_force()
    assert found["given_to_genai"]["INFERENCE_PRECISION_HINT"] == "bf16"
    assert found["same_settings_read_back"]["INFERENCE_PRECISION_HINT"] == "bf16"


def test_a_machine_without_bf16_refuses_before_building_and_on_opening(bf16_machine, tiny_artifacts, shared_cache,
                                                                        tmp_path, monkeypatch):
    built = sdopt.build("ov-fp32[inference_precision=bf16]", "tiny", cache=shared_cache)
    monkeypatch.setattr(openvino_backend, "cpu_capabilities", lambda: ("FP32", "INT8"))
    empty = sdopt.Cache(tmp_path / "cache")
    with pytest.raises(sdopt.BadArgument, match="has no BF16 on this machine"):
        sdopt.build("ov-int8-ptq[inference_precision=bf16]", "tiny", cache=empty)
    assert not (tmp_path / "cache" / "variants").exists() or not any((tmp_path / "cache" / "variants").iterdir())
    with pytest.raises(sdopt.BadArgument, match="has no BF16 on this machine"):
        open_variant(built)  # built where it ran, opened where it cannot
    # the suites ask this to list the variant as not run on such a machine, with the reason
    assert "has no BF16" in sdopt.build_refusal("ov-fp32[inference_precision=bf16]", resolve("tiny"))


def test_the_option_is_openvinos_and_f32_changes_nothing():
    with pytest.raises(sdopt.BadArgument, match="is an OpenVINO setting"):
        sdopt.get_recipe("torch-fp32[inference_precision=bf16]")
    with pytest.raises(sdopt.BadArgument, match="not one of f32, bf16"):
        sdopt.get_recipe("ov-fp32[inference_precision=f16]")
    assert sdopt.build_stages("ov-int8-ptq[inference_precision=bf16,runtime=genai]")[-2:] == (
        "inference-precision", "genai-files")
    assert "inference_precision" not in sdopt.key_material(sdopt.get_recipe("ov-int8-ptq"))
