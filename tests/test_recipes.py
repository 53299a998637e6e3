import pytest

import sdopt
from sdopt import recipes, schedulers
from sdopt.build import parse_resolution


def test_registry_has_the_spine_variants():
    assert {"torch-fp32", "ov-fp32", "ov-int8-ptq", "ov-int8-weights"} <= set(sdopt.REGISTRY)
    for recipe in sdopt.REGISTRY.values():
        assert recipe.base is None or recipe.base in sdopt.REGISTRY


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(sdopt.UnknownName, match="valid variants: .*ov-fp32"):
        sdopt.get_recipe("ov-int4")
    with pytest.raises(sdopt.UnknownName, match="valid schedulers: .*euler"):
        schedulers.check("heun")


def test_auto_fields_resolve_from_the_cpu(monkeypatch):
    ptq = sdopt.get_recipe("ov-int8-ptq")
    monkeypatch.setattr(recipes, "has_int8_dot_product", lambda: False)
    assert (ptq.resolved().overflow_fix, ptq.resolved().int8_scope) == ("enable", "conv-only")
    monkeypatch.setattr(recipes, "has_int8_dot_product", lambda: True)
    assert (ptq.resolved().overflow_fix, ptq.resolved().int8_scope) == ("disable", "all")
    assert ptq.with_options(overflow_fix="first_layer").resolved().overflow_fix == "first_layer"


def test_key_material_ignores_knobs_a_method_does_not_use():
    fp32 = sdopt.get_recipe("ov-fp32")
    assert fp32.key_material() == fp32.with_options(calibration_prompts=99).key_material()
    ptq = sdopt.get_recipe("ov-int8-ptq")
    assert ptq.key_material() != ptq.with_options(calibration_prompts=99).key_material()
    with pytest.raises(sdopt.UnknownName):
        ptq.with_options(no_such_option=1)


@pytest.mark.parametrize("value, expected", [("512", (512, 512)), ("512x768", (512, 768)), ((64, 128), (64, 128))])
def test_resolution_parsing(value, expected):
    assert parse_resolution(value) == expected


@pytest.mark.parametrize("value", ["500", "512x", "big", "0"])
def test_bad_resolution_is_refused(value):
    with pytest.raises(sdopt.BadArgument):
        parse_resolution(value)


def test_every_scheduler_builds_from_the_sd_config():
    from sdopt.sources import SD_SCHEDULER
    from diffusers import PNDMScheduler
    config = PNDMScheduler(**SD_SCHEDULER).config
    for name in schedulers.SCHEDULERS:
        assert type(schedulers.make(name, config)) is schedulers.SCHEDULERS[name]
