"""Build stages are modules of sdopt/methods/ and an artifact says which it has: its manifest lists them, and a
backend applies what the list says (no marker files)."""
import json
import shutil

import pytest

import sdopt
from sdopt import methods, recipes
from sdopt.backends import open_variant
from sdopt.cache import MANIFEST, read_manifest
from sdopt.errors import BadArgument


def test_every_stage_module_is_found_and_every_recipe_has_its_method():
    names = {module.__name__.rsplit(".", 1)[1] for module in methods.STAGE_MODULES}
    assert {"export", "ptq", "qat", "tome", "todo", "deepcache", "vae_int8", "genai_files"} <= names
    for recipe in recipes.REGISTRY.values():
        assert (recipes.built_on(recipe), recipe.method) in methods.METHODS, recipe.name
    owned = [name for cls in methods.OPTION_CLASSES for name in cls.names()]
    assert len(owned) == len(set(owned))  # an option belongs to one stage
    assert not set(owned) & set(recipes.CORE)


def test_every_backend_module_is_found_and_serves_its_runtime():
    import pkgutil

    from sdopt import backends
    modules = {info.name.removesuffix("_backend") for info in pkgutil.iter_modules(backends.__path__)
               if info.name.endswith("_backend")}
    assert set(backends.BACKENDS) == modules
    assert {recipe.runtime for recipe in recipes.REGISTRY.values()} | set(recipes.RUNTIME_LAYERS) <= modules


def test_a_recipe_keeps_each_stages_options_in_that_stages_own_dataclass():
    from sdopt.methods import ptq, tome
    recipe = recipes.get("ov-tome-int8-ptq[tome_ratio=0.6,calibration_prompts=2]")
    assert recipe.options_of(tome.Options) == tome.Options(tome_ratio=0.6)
    assert recipe.options_of(ptq.Options).calibration_prompts == recipe.calibration_prompts == 2
    assert recipe.options_of(tome.Options).values()["ratio"] == 0.6  # as the stage's functions take it
    assert recipes.get("ov-tome-int8-ptq").options_of(tome.Options).tome_ratio == 0.4  # the registry untouched
    with pytest.raises(AttributeError, match="tome_rato"):
        recipe.tome_rato


@pytest.mark.parametrize("name, stages", [
    ("torch-tome", ["save", "tome"]),
    ("ov-tome-int8-ptq", ["save", "export", "tome", "ptq"]),
    ("ov-deepcache-int8-ptq", ["save", "export", "deepcache", "ptq"]),
])
def test_the_manifest_lists_the_stages_in_build_order_and_no_marker_file_is_written(tiny_artifacts, name, stages):
    folder = tiny_artifacts[name]
    listed = read_manifest(folder)["stages"]
    assert [entry["stage"] for entry in listed] == list(sdopt.build_stages(name)) == stages
    recipe = recipes.get(name)
    if recipe.tome_ratio:
        assert next(e for e in listed if e["stage"] == "tome")["options"]["ratio"] == recipe.tome_ratio
    assert not [p.name for p in folder.iterdir() if p.name in ("tome.json", "todo.json", "deepcache.json")]


def test_a_variant_is_its_runtime_plus_its_stages_layers_included():
    assert sdopt.build_stages("ov-int8-ptq[vae_decoder=int8,runtime=genai]") == (
        "save", "export", "ptq", "vae-int8", "genai-files")
    assert sdopt.build_stages("ov-deepcache-int8-ptq[todo_factor=2]") == ("save", "export", "deepcache", "ptq")
    assert sdopt.build_stages("torch-fp32") == ("save",)


def test_a_backend_applies_what_the_manifest_lists(tiny_artifacts, tmp_path):
    """torch-tome with its tome stage struck from the manifest opens as plain torch-fp32: the list, not a file,
    decides; an on-open stage no backend knows is refused, not skipped."""
    copy = tmp_path / "torch-tome"
    shutil.copytree(tiny_artifacts["torch-tome"], copy)
    assert open_variant(copy).tome is not None
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["stages"] = [entry for entry in manifest["stages"] if entry["stage"] != "tome"]
    (copy / MANIFEST).write_text(json.dumps(manifest))
    assert open_variant(copy).tome is None
    manifest["stages"].append({"stage": "warp", "options": {}, "on_open": True})
    (copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadArgument, match="cannot apply its warp stage"):
        open_variant(copy)


def test_a_stage_refuses_its_own_options():
    with pytest.raises(BadArgument, match="pick one"):
        recipes.get("ov-todo-fp32[tome_ratio=0.4]")
    with pytest.raises(BadArgument, match="needs an OpenVINO variant"):
        recipes.get("torch-fp32[vae_decoder=int8]")
    with pytest.raises(BadArgument, match="step caching"):
        recipes.get("ov-deepcache-fp32[runtime=genai]")
    assert "cache_interval 3 is above the 2" in recipes.get("torch-deepcache").refuses(2)
    assert recipes.get("torch-deepcache").refuses(20) is None


def test_options_of_a_stage_the_recipe_lacks_stay_out_of_its_key():
    key = sdopt.key_material(recipes.get("ov-int8-ptq"))
    assert not {"tome_ratio", "todo_factor", "cache_interval", "vae_decoder", "control", "noise"} & set(key)
    assert {"calibration_prompts", "overflow_fix"} <= set(key)  # read by PTQ
    assert "calibration_prompts" not in sdopt.key_material(recipes.get("ov-tome-fp32"))  # not read by ToMe
    assert sdopt.key_material(recipes.get("ov-tome-fp32"))["tome_ratio"] == 0.4
