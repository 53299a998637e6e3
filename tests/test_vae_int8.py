"""The int8 VAE decoder option: a layer over any OpenVINO variant that quantizes the decoder alone, keeps the
rest of the variant as it was built, still draws the same picture, and is refused where it cannot apply."""
import numpy as np
import pytest

import sdopt
from sdopt.build import key_material
from sdopt.errors import BadArgument
from sdopt.ir import IR


def fake_quantize_count(path) -> int:
    import openvino as ov
    return sum(op.get_type_name() == "FakeQuantize" for op in ov.Core().read_model(path).get_ops())


def test_the_layer_quantizes_the_decoder_and_nothing_else(shared_cache, tiny_artifacts):
    from sdopt.backends import open_variant
    plain = tiny_artifacts["ov-int8-ptq"]
    layered = sdopt.build("ov-int8-ptq[vae_decoder=int8]", "tiny", cache=shared_cache)
    assert fake_quantize_count(plain / "vae_decoder" / IR) == 0
    assert fake_quantize_count(layered / "vae_decoder" / IR) > 10
    for part in ("unet", "text_encoder"):  # the same files, not a rebuild
        assert (layered / part / IR.replace(".xml", ".bin")).samefile(plain / part / IR.replace(".xml", ".bin"))
    images = [np.asarray(open_variant(folder).generate("a red circle", 4, "euler", 0, 128, 128).images[0],
                         dtype=np.float64) for folder in (plain, layered)]
    difference = np.abs(images[0] - images[1]).mean()
    assert 0 < difference < 25, difference  # the decoder changed, the picture did not (0-255 scale)


def test_the_default_decoder_leaves_every_key_as_it_was():
    assert "vae_decoder" not in key_material(sdopt.recipes.get("ov-int8-ptq"))
    assert key_material(sdopt.recipes.get("ov-int8-ptq[vae_decoder=int8]"))["vae_decoder"] == "int8"
    assert sdopt.recipes.get("ov-deepcache-int8-ptq[todo_factor=2,vae_decoder=int8]").name == \
        "ov-deepcache-int8-ptq[todo_factor=2,vae_decoder=int8]"


def test_bad_decoder_options_are_refused_before_anything_is_built(shared_cache):
    before = sorted(p.name for p in (shared_cache.root / "variants").glob("*"))
    with pytest.raises(BadArgument, match="needs an OpenVINO variant"):
        sdopt.build("torch-fp32[vae_decoder=int8]", "tiny", cache=shared_cache)
    with pytest.raises(BadArgument, match="vae_decoder='int4' is not one of fp32, int8"):
        sdopt.build("ov-fp32[vae_decoder=int4]", "tiny", cache=shared_cache)
    assert sorted(p.name for p in (shared_cache.root / "variants").glob("*")) == before


def test_an_sdxl_turbo_decoder_quantizes_on_its_own_latents_and_runs_on_both_runtimes(shared_cache):
    """SDXL's VAE has its own scaling factor and runs upcast to FP32 in diffusers: the layer calibrates on the
    latents its pipeline hands the decoder and draws the same picture on the Python runtime and on GenAI."""
    from sdopt.backends import open_variant
    plain = sdopt.build("ov-int8-ptq", "tiny-sdxl-turbo", cache=shared_cache)
    layered = sdopt.build("ov-int8-ptq[vae_decoder=int8]", "tiny-sdxl-turbo", cache=shared_cache)
    genai = sdopt.build("ov-int8-ptq[vae_decoder=int8,runtime=genai]", "tiny-sdxl-turbo", cache=shared_cache)
    assert fake_quantize_count(plain / "vae_decoder" / IR) == 0
    assert fake_quantize_count(layered / "vae_decoder" / IR) > 10
    images = [np.asarray(open_variant(folder).generate("a red circle", 2, "euler-a", 0, 128, 128).images[0],
                         dtype=np.float64) for folder in (plain, layered, genai)]
    assert 0 < np.abs(images[0] - images[1]).mean() < 25  # the decoder changed, the picture did not
    # The runtimes hand the decoder latents equal to the last bits (with the FP32 decoder their images agree to
    # 45 dB or better: tests/test_model_families.py); int8 activations turn such differences into whole
    # quantization steps, about two levels of 255 here, so the bar is the decoder's own.
    assert np.abs(images[1] - images[2]).mean() < 25
