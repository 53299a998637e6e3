"""OpenVINO per-layer counters of one UNet call (only with --profile): where the time goes, which kernels ran."""
import pytest

import sdopt
from bench.profile import unet_profile
from conftest import release
from sdopt.pipeline import open_variant


def test_unet_profile(variant_name, settings, artifact_for, record, run_extras):
    if not settings.profile:
        pytest.skip("profiling is off: pass --profile")
    recipe = sdopt.get_recipe(variant_name)
    if recipe.runtime != "openvino":
        pytest.skip(f"{variant_name} runs on {recipe.runtime}; per-layer counters are OpenVINO's")
    # a separate instance: performance counters cost time, so the latency runners never have them on
    loaded = {"variant": open_variant(artifact_for(variant_name), settings.threads, perf_counters=True)}
    try:
        table = unet_profile(loaded["variant"])
    finally:
        release(loaded)
    run_extras[f"profile-{variant_name}.csv"] = table
    int8_ms = table[table.exec_type.str.contains("I8|i8|u8|U8")]["ms"].sum()
    record(variant_name, None, None, "profile_unet_total", table["ms"].sum(), "ms")
    record(variant_name, None, None, "profile_int8_share", int8_ms / table["ms"].sum(), "ratio")
    assert not table.empty
    if recipe.activations == "int8":
        assert int8_ms > 0, f"no int8 kernel ran in {variant_name}'s UNet:\n{table.head(10)}"
