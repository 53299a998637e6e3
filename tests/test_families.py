"""Model families: a folder's family comes from its model_index.json, and a pipeline no family runs is refused in
one line that names the families there are."""
import json

import pytest

from sdopt import families
from sdopt.errors import BadArgument, ModelNotFound
from sdopt.sources import BUILTINS, resolve


def test_every_built_in_belongs_to_a_family_and_the_sources_list_them_all():
    assert set(BUILTINS) == set(families.builtin_names()) and {"tiny", "sd15-arch"} <= set(BUILTINS)
    assert resolve("tiny").family is families.STABLE_DIFFUSION
    assert resolve("shapes").family is families.STABLE_DIFFUSION  # read from its folder's model_index.json


def test_a_pipeline_class_no_family_runs_is_refused_naming_it_and_the_families(tmp_path):
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(BadArgument) as refused:
        families.of_folder(tmp_path)
    message = str(refused.value)
    assert "FluxPipeline" in message and "Stable Diffusion 1.x/2.x (StableDiffusionPipeline)" in message
    assert "Stable Diffusion XL (StableDiffusionXLPipeline)" in message
    assert "\n" not in message
    with pytest.raises(ModelNotFound, match="no model_index.json"):
        families.of_folder(tmp_path / "nothing")


def test_the_family_knows_what_genai_reads_and_what_the_denoiser_takes():
    family = families.STABLE_DIFFUSION
    assert families.of_class("StableDiffusionPipeline") is family
    assert family.denoiser_inputs[0] == "sample" and family.genai_index_classes["unet"] == "UNet2DConditionModel"
    assert family.diffusers_class().__name__ == "StableDiffusionPipeline"
