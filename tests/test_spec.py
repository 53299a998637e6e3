"""Variant names are read and written in one place (sdopt/spec.py): what the rest of the code passes around."""
import pytest

import sdopt
from sdopt import recipes
from sdopt.errors import BadArgument
from sdopt.spec import VariantSpec, split


def test_a_name_reads_back_as_written_and_canonically_sorted():
    spec = VariantSpec.parse("ov-int8-qat[steps=2,learning_rate=2e-5,ema=false,overflow_fix=auto,data=world]")
    assert spec.base == "ov-int8-qat"
    assert spec.option_dict == {"steps": 2, "learning_rate": 2e-5, "ema": False, "overflow_fix": None, "data": "world"}
    assert VariantSpec.parse(spec.format()) == spec  # the given order survives a round trip
    assert spec.canonical(("data",)) == "ov-int8-qat[ema=False,learning_rate=2e-05,overflow_fix=None,steps=2]"
    assert VariantSpec.parse("  ov-fp32 ") == VariantSpec("ov-fp32") and VariantSpec("ov-fp32").format() == "ov-fp32"


def test_changed_copies_keep_the_order_and_never_edit_text():
    spec = VariantSpec.parse("ov-int8-qat[steps=2]")
    layered = spec.with_option("runtime", "genai")
    assert layered.format() == "ov-int8-qat[steps=2,runtime=genai]"
    assert layered.with_option("steps", 3).format() == "ov-int8-qat[steps=3,runtime=genai]"
    assert layered.without("steps").without("runtime").format() == "ov-int8-qat"


@pytest.mark.parametrize("text, problem", [
    ("ov-fp32[runtime=genai", "one trailing bracket"),
    ("ov-fp32]", "no '\\['"),
    ("ov-fp32[a=[1]]", "one trailing bracket"),
    ("ov-fp32[steps]", "not key=value"),
    ("ov-fp32[=2]", "not key=value"),
])
def test_a_malformed_name_is_refused_naming_the_problem(text, problem):
    with pytest.raises(BadArgument, match=problem):
        VariantSpec.parse(text)


def test_a_value_that_would_not_read_back_is_refused_when_written():
    with pytest.raises(BadArgument, match="cannot hold"):
        VariantSpec.of("ov-int8-qat", {"data": "/tmp/a,b"}).format()


def test_a_list_splits_between_names_not_inside_brackets():
    assert split("torch-fp32, ov-int8-qat[steps=2,seed=1],ov-fp32,") == (
        "torch-fp32", "ov-int8-qat[steps=2,seed=1]", "ov-fp32")


def test_a_training_folder_is_an_input_not_a_word_of_the_name(tmp_path):
    """A folder whose path holds ',' or ']' trains as any other: it never goes through the parser."""
    folder = tmp_path / "images, mine]"
    recipe = recipes.with_training_data(recipes.get("ov-int8-qat[steps=2,vae_decoder=int8]"), folder)
    assert recipe.name == "ov-int8-qat[steps=2,vae_decoder=int8]" and recipe.training.data == str(folder)
    assert sdopt.key_material(recipe)["training"]["data"] == str(folder)
    under = recipes.without_option(recipe, "vae_decoder")  # the layer's base, as build() asks for it
    assert under.name == "ov-int8-qat[steps=2]" and under.training.data == str(folder)
    with pytest.raises(BadArgument, match="does not train"):
        recipes.with_training_data(recipes.get("ov-fp32"), folder)


def test_recipes_carry_their_spec_and_drop_options_without_parsing_their_name():
    recipe = recipes.get("ov-int8-ptq[vae_decoder=int8,runtime=genai]")
    assert recipe.name == "ov-int8-ptq[runtime=genai,vae_decoder=int8]"
    assert recipes.spec_of(recipe).format() == "ov-int8-ptq[vae_decoder=int8,runtime=genai]"
    plain = recipes.without_option(recipes.without_option(recipe, "runtime"), "vae_decoder")
    assert plain.name == "ov-int8-ptq" and plain.runtime == "openvino" and plain.vae_decoder == "fp32"
    assert sdopt.key_material(plain) == sdopt.key_material(recipes.get("ov-int8-ptq"))
    assert recipes.layered_counterpart("ov-int8-qat[steps=2,runtime=genai]") == "ov-int8-qat[steps=2]"
    assert recipes.layered_counterpart("ov-int8-qat[steps=2]") is None
