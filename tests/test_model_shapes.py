"""A model not shaped like SD-1.5: a VAE that downsamples by 4, an Euler v-prediction scheduler with trailing
spacing. The latent grid comes from the model, so calibration, static shapes and every scheduler agree."""
import numpy as np
import pytest

import sdopt
from sdopt.sources import resolve


@pytest.fixture(scope="module")
def other_shape(shared_cache, tmp_path_factory):
    """The tiny model with a 3-level VAE (scale factor 4) and the v-prediction Euler scheduler it ships with."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline

    from sdopt.build import materialize
    pipe = StableDiffusionPipeline.from_pretrained(materialize(resolve("tiny"), shared_cache))
    torch.manual_seed(0)
    pipe.vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=32,
                             down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                             block_out_channels=(32, 32, 64), layers_per_block=1, sample_size=64)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config, prediction_type="v_prediction",
                                                        timestep_spacing="trailing")
    folder = tmp_path_factory.mktemp("other-shape")
    pipe.save_pretrained(folder, safe_serialization=True)
    return str(folder)


def test_the_latent_grid_and_native_size_come_from_the_vae(other_shape):
    source = resolve(other_shape)
    assert source.vae_scale_factor == 4 and source.native_resolution == 64  # UNet sample size 16 x 4
    assert sdopt.parse_resolution("68", source) == (68, 68)
    with pytest.raises(sdopt.BadArgument, match="not a positive multiple of 4"):
        sdopt.parse_resolution("66", source)


def test_int8_ptq_calibrates_at_the_models_latent_size(other_shape, shared_cache):
    import openvino as ov
    folder = sdopt.build("ov-int8-ptq", other_shape, cache=shared_cache)
    unet = ov.Core().read_model(folder / "unet" / "openvino_model.xml")
    assert list(unet.input("sample").get_partial_shape().to_shape()) == [2, 4, 16, 16]
    variant = sdopt.open_variant(folder)
    out = variant.generate("a red circle", 3, "euler", 0, 64, 64)
    assert out.images[0].size == (64, 64) and tuple(out.latents.shape) == (1, 4, 16, 16)


@pytest.mark.parametrize("scheduler", ["pndm", "native", "ddim"])
def test_short_schedules_run_with_any_scheduler(other_shape, shared_cache, scheduler):
    """PNDM with its Runge-Kutta warm-up failed at 3 steps on such a model; Stable Diffusion skips it."""
    variant = sdopt.open_variant(sdopt.build("torch-fp32", other_shape, cache=shared_cache))
    out = variant.generate("a red circle", 3, scheduler, 0, 64, 64)
    assert np.isfinite(out.latents.numpy()).all() and out.images[0].size == (64, 64)
    assert type(variant.pipe.scheduler).__name__ == {"pndm": "PNDMScheduler", "native": "EulerDiscreteScheduler",
                                                     "ddim": "DDIMScheduler"}[scheduler]
    assert variant.pipe.scheduler.config.prediction_type == "v_prediction"
