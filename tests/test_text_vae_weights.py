"""The `text_vae_weights=int8` layer: the text encoder's and the VAE's weights compressed to int8 over any OpenVINO
variant, the UNet left as the base built it, the picture kept, and refused where it cannot apply."""
import numpy as np
import pytest

import sdopt
from sdopt.build import key_material, stages
from sdopt.errors import BadArgument
from sdopt.ir import IR

BIN = IR.replace(".xml", ".bin")


def _image(folder, runtime_call=("a red circle", 4, "euler", 0, 128, 128)):
    from sdopt.backends import open_variant
    return np.asarray(open_variant(folder).generate(*runtime_call).images[0], dtype=np.float64)


def test_the_layer_compresses_text_encoder_and_vae_as_weight_only_int8_does_and_keeps_the_unet(
        shared_cache, tiny_artifacts):
    base = tiny_artifacts["ov-lcm-int8-ptq"]
    layered = sdopt.build("ov-lcm-int8-ptq[text_vae_weights=int8]", "tiny", cache=shared_cache)
    everything = tiny_artifacts["ov-int8-weights"]  # the same compression, of the same FP32 IRs, by the recipe
    assert (layered / "unet" / BIN).samefile(base / "unet" / BIN)  # the student's int8 UNet, not a rebuild
    for part in ("text_encoder", "vae_decoder", "vae_encoder"):
        size = (layered / part / BIN).stat().st_size
        assert size < 0.6 * (base / part / BIN).stat().st_size, part
        assert size == (everything / part / BIN).stat().st_size, part
    difference = np.abs(_image(base) - _image(layered)).mean()
    assert 0 < difference < 25, difference  # the weights changed, the picture did not (0-255 scale)


def test_an_int8_decoder_below_it_is_left_as_that_layer_made_it(shared_cache):
    below = sdopt.build("ov-int8-ptq[vae_decoder=int8]", "tiny", cache=shared_cache)
    both = sdopt.build("ov-int8-ptq[vae_decoder=int8,text_vae_weights=int8]", "tiny", cache=shared_cache)
    assert (both / "vae_decoder" / BIN).samefile(below / "vae_decoder" / BIN)
    assert (both / "text_encoder" / BIN).stat().st_size < 0.6 * (below / "text_encoder" / BIN).stat().st_size


def test_genai_runs_it_and_draws_what_the_python_runtime_draws(shared_cache):
    python = sdopt.build("ov-int8-ptq[text_vae_weights=int8]", "tiny", cache=shared_cache)
    genai = sdopt.build("ov-int8-ptq[text_vae_weights=int8,runtime=genai]", "tiny", cache=shared_cache)
    assert np.abs(_image(python) - _image(genai)).mean() < 3


def test_the_default_leaves_every_key_as_it_was():
    assert "text_vae_weights" not in key_material(sdopt.recipes.get("ov-lcm-int8-ptq"))
    assert key_material(sdopt.recipes.get("ov-lcm-int8-ptq[text_vae_weights=int8]"))["text_vae_weights"] == "int8"
    # a layer over whatever the variant was: the int8 decoder's layer stays below it
    assert stages("ov-lcm-int8-ptq[text_vae_weights=int8,vae_decoder=int8]") == \
        ("save", "lcm", "export", "ptq", "vae-int8", "text-vae-weights")


@pytest.mark.parametrize("name, message", [
    ("torch-fp32[text_vae_weights=int8]", "needs an OpenVINO variant"),
    ("ov-int8-weights[text_vae_weights=int8]", "already compresses every component's weights"),
    ("ov-fp32[text_vae_weights=int2]", "text_vae_weights=.int2. is not one of fp32, int8, int4"),
])
def test_bad_options_are_refused_before_anything_is_built(shared_cache, name, message):
    before = sorted(p.name for p in (shared_cache.root / "variants").glob("*"))
    with pytest.raises(BadArgument, match=message):
        sdopt.build(name, "tiny", cache=shared_cache)
    assert sorted(p.name for p in (shared_cache.root / "variants").glob("*")) == before


def test_int4_takes_the_text_encoders_linear_layers_below_int8_and_keeps_the_picture(shared_cache, tiny_artifacts):
    import openvino as ov
    int8 = sdopt.build("ov-int8-ptq[text_vae_weights=int8]", "tiny", cache=shared_cache)
    int4 = sdopt.build("ov-int8-ptq[text_vae_weights=int4]", "tiny", cache=shared_cache)
    types = {str(op.get_element_type()) for op in ov.Core().read_model(int4 / "text_encoder" / IR).get_ops()
             if op.get_type_name() == "Constant"}
    assert any("u4" in t or "uint4" in t for t in types), types
    assert (int4 / "text_encoder" / BIN).stat().st_size < (int8 / "text_encoder" / BIN).stat().st_size
    difference = np.abs(_image(tiny_artifacts["ov-int8-ptq"]) - _image(int4)).mean()
    assert 0 < difference < 25, difference


def test_the_weights_only_recipe_reads_int4_itself_from_the_fp32_ir(shared_cache, tiny_artifacts):
    int8 = tiny_artifacts["ov-int8-weights"]
    mixed = sdopt.build("ov-int8-weights[text_vae_weights=int4]", "tiny", cache=shared_cache)
    layered = sdopt.build("ov-int8-ptq[text_vae_weights=int4]", "tiny", cache=shared_cache)
    assert stages("ov-int8-weights[text_vae_weights=int4]")[-1] == "weights-int8"  # no layer over its own int8
    assert key_material(sdopt.recipes.get("ov-int8-weights[text_vae_weights=int4]"))["text_vae_weights"] == "int4"
    assert (mixed / "unet" / BIN).stat().st_size == (int8 / "unet" / BIN).stat().st_size
    for part in ("text_encoder", "vae_decoder"):  # the same int4 compression of the same FP32 IR as the layer's
        assert (mixed / part / BIN).stat().st_size == (layered / part / BIN).stat().st_size, part
    assert (mixed / "text_encoder" / BIN).stat().st_size < (int8 / "text_encoder" / BIN).stat().st_size
