"""Model bytes on disk per component; int8 weights must actually shrink the UNet."""
import sdopt
from bench.probes.footprint import footprint


def test_footprint(variant_name, settings, artifact_for, record):
    sizes = footprint(artifact_for(variant_name))
    for component, size in sizes.items():
        record(variant_name, None, None, f"footprint_{component}", size / 1e6)
    assert sizes["total"] == sizes["unet"] + sizes["text_encoder"] + sizes["vae"]
    assert min(sizes["unet"], sizes["text_encoder"], sizes["vae"]) > 0, sizes
    recipe = sdopt.get_recipe(variant_name)
    if recipe.weights == "int8":
        fp32 = footprint(artifact_for("ov-fp32"))
        assert sizes["unet"] < 0.9 * fp32["unet"], f"int8 {variant_name} UNet is not smaller than ov-fp32's"
