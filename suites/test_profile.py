"""Per-layer counters of one UNet call (only with --profile): where the time goes, which kernels ran."""
import pytest

import sdopt
from bench.probes.profile import unet_profile
from sdopt import backends


def test_unet_profile(variant_name, settings, open_for_profile, record, run_extras):
    if not settings.profile:
        pytest.skip("profiling is off: pass --profile")
    recipe = sdopt.get_recipe(variant_name)
    if not backends.get(recipe.runtime).has_layer_counters:
        pytest.skip(f"{variant_name} runs on {recipe.runtime}, which has no per-layer counters")
    with open_for_profile(variant_name) as variant:
        table = unet_profile(variant)
    run_extras[f"profile-{variant_name}.csv"] = table
    int8_ms = table[table.exec_type.str.contains("I8|i8|u8|U8")]["ms"].sum()
    record(variant_name, None, None, "profile_unet_total", table["ms"].sum())
    record(variant_name, None, None, "profile_int8_share", int8_ms / table["ms"].sum())
    assert not table.empty
    if recipe.activations == "int8":
        assert int8_ms > 0, f"no int8 kernel ran in {variant_name}'s UNet:\n{table.head(10)}"
