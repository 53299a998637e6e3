import pytest

import sdopt
from sdopt import schedulers
from sdopt.sources import parse_resolution


def test_registry_has_the_spine_variants():
    assert {"torch-fp32", "ov-fp32", "ov-int8-ptq", "ov-int8-weights"} <= set(sdopt.REGISTRY)
    for recipe in sdopt.REGISTRY.values():
        assert recipe.base is None or recipe.base in sdopt.REGISTRY


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(sdopt.UnknownName, match="valid variants: .*ov-fp32"):
        sdopt.get_recipe("ov-int4")
    with pytest.raises(sdopt.UnknownName, match="valid schedulers: .*euler"):
        schedulers.check("heun")


@pytest.mark.parametrize("isa, expected", [("avx2", ("enable", "conv-only")), ("avx512-vnni", ("disable", "all")),
                                           ("amx", ("disable", "all"))])
def test_auto_fields_resolve_from_the_isa_class_or_its_override(monkeypatch, isa, expected):
    ptq = sdopt.get_recipe("ov-int8-ptq")
    monkeypatch.setenv("SDOPT_ISA", isa)
    assert (ptq.resolved().overflow_fix, ptq.resolved().int8_scope) == expected
    assert ptq.with_options(overflow_fix="first_layer").resolved().overflow_fix == "first_layer"
    # another machine's recipe is another artifact
    monkeypatch.setenv("SDOPT_ISA", "avx2" if isa != "avx2" else "amx")
    other = sdopt.key_material(ptq)
    monkeypatch.setenv("SDOPT_ISA", isa)
    assert sdopt.key_material(ptq) != other


def test_without_override_the_machine_decides(monkeypatch):
    from sdopt import isa
    monkeypatch.delenv("SDOPT_ISA", raising=False)
    assert isa.recipe_class() == isa.detected_class()
    monkeypatch.setattr(isa, "cpu_info", lambda: {"model": "x", "flags": ["avx2", "fma"]})
    assert isa.detected_class() == "avx2" and not isa.has_int8_dot_product()
    monkeypatch.setattr(isa, "cpu_info", lambda: {"model": "x", "flags": ["avx2", "avx512f", "avx512_vnni"]})
    assert isa.detected_class() == "avx512-vnni" and isa.has_int8_dot_product()


def test_a_bad_isa_override_is_refused(monkeypatch):
    monkeypatch.setenv("SDOPT_ISA", "avx9")
    with pytest.raises(sdopt.BadArgument, match="SDOPT_ISA='avx9' is not an ISA class; use one of avx2, "):
        sdopt.get_recipe("ov-int8-ptq").resolved()


def test_key_material_ignores_knobs_a_method_does_not_use():
    fp32 = sdopt.get_recipe("ov-fp32")
    assert sdopt.key_material(fp32) == sdopt.key_material(fp32.with_options(calibration_prompts=99))
    ptq = sdopt.get_recipe("ov-int8-ptq")
    assert sdopt.key_material(ptq) != sdopt.key_material(ptq.with_options(calibration_prompts=99))
    with pytest.raises(sdopt.UnknownName):
        ptq.with_options(no_such_option=1)


@pytest.mark.parametrize("value, expected", [("512", (512, 512)), ("512x768", (512, 768)), ((64, 128), (64, 128))])
def test_resolution_parsing(value, expected):
    assert parse_resolution(value) == expected


@pytest.mark.parametrize("value", ["500", "512x", "big", "0"])
def test_bad_resolution_is_refused(value):
    with pytest.raises(sdopt.BadArgument):
        parse_resolution(value)


def test_every_scheduler_builds_from_the_models_own():
    from diffusers import EulerDiscreteScheduler, PNDMScheduler

    from sdopt.families.stable_diffusion import SCHEDULER as SD_SCHEDULER
    own = PNDMScheduler(**SD_SCHEDULER)
    for name in schedulers.SCHEDULERS:
        assert type(schedulers.make(name, own)) is (schedulers.SCHEDULERS[name] or PNDMScheduler)
    # a v-prediction Euler model keeps its own schedule under any name, and PNDM skips its Runge-Kutta steps
    euler = EulerDiscreteScheduler(**{k: v for k, v in SD_SCHEDULER.items() if k not in ("skip_prk_steps",
                                                                                         "set_alpha_to_one")},
                                   prediction_type="v_prediction", timestep_spacing="trailing")
    assert type(schedulers.make("native", euler)) is EulerDiscreteScheduler
    pndm = schedulers.make("pndm", euler)
    assert pndm.config.prediction_type == "v_prediction" and pndm.config.skip_prk_steps
    assert pndm.config.timestep_spacing == "trailing"


@pytest.mark.parametrize("spec, option, valid", [
    ("ov-int8-ptq[int8_scope=conv-onyl]", "int8_scope='conv-onyl'", "auto, all, conv-only"),
    ("ov-int8-ptq[overflow_fix=on]", "overflow_fix='on'", "auto, disable, first_layer, enable"),
    ("ov-fp32[vae_decoder=int4]", "vae_decoder='int4'", "fp32, int8")])
def test_a_misspelt_word_option_is_refused_with_the_valid_ones(spec, option, valid):
    with pytest.raises(sdopt.BadArgument, match=f"{option} is not one of {valid}"):
        sdopt.get_recipe(spec)
    name, _, rest = spec.partition("[")
    key, _, value = rest[:-1].partition("=")
    with pytest.raises(sdopt.BadArgument, match=f"{option} is not one of"):
        sdopt.get_recipe(name).with_options(**{key: value})


def test_word_options_spelt_right_build_what_they_say(monkeypatch):
    monkeypatch.setenv("SDOPT_ISA", "amx")
    assert sdopt.get_recipe("ov-int8-ptq[int8_scope=conv-only]").resolved().int8_scope == "conv-only"
    auto = sdopt.get_recipe("ov-int8-ptq[int8_scope=auto]")
    assert auto.int8_scope == "auto" and auto.resolved().int8_scope == "all"
    assert auto.name == "ov-int8-ptq[int8_scope=auto]"


def test_the_cpu_is_named_by_family_model_and_stepping_not_only_its_brand():
    from sdopt import isa
    info = {"model": "AMD EPYC", "flags": [], "identity": {"family": "25", "model_number": "17", "stepping": "1"}}
    assert isa.cpu_label(info) == "AMD EPYC (family 25, model 17, stepping 1)"
    assert isa.cpu_label({"model": "arm64", "flags": [], "identity": {}}) == "arm64"
    here = isa.cpu_info()
    if "family" in here["identity"]:  # an x86 Linux machine: the label carries what /proc/cpuinfo says
        assert f"family {here['identity']['family']}" in isa.cpu_label(here)
