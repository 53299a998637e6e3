"""Proof the metrics can tell: on the tiny model, a deliberately damaged variant (ov-fp32-noised: UNet weights
plus noise) ranks clearly worse than ov-fp32 on every metric, and ov-fp32 is almost identical to torch-fp32."""
import pytest
import torch

from bench.probes.quality import distribution_distance, fidelity, to_tensor
from sdopt.backends import open_variant
from sdopt.prompts import EVALUATION_PROMPTS

OV_FP32_MIN_PSNR = 35.0  # dB against torch-fp32: the same model in another runtime


@pytest.fixture(scope="module")
def generated(tiny_artifacts):
    made = {}
    for name in ("torch-fp32", "ov-fp32", "ov-fp32-noised"):
        variant = open_variant(tiny_artifacts[name])
        outs = [variant.generate(prompt, 4, "euler", seed, 128, 128)
                for prompt in EVALUATION_PROMPTS[:6] for seed in (0, 1)]
        made[name] = (to_tensor([o.images[0] for o in outs]), torch.cat([o.latents for o in outs]))
    return made


def test_fidelity_separates_good_from_damaged(generated):
    reference, reference_latents = generated["torch-fp32"]
    good = fidelity(reference, *generated["ov-fp32"][:1], reference_latents, generated["ov-fp32"][1])
    bad = fidelity(reference, *generated["ov-fp32-noised"][:1], reference_latents, generated["ov-fp32-noised"][1])
    assert good["psnr"] > OV_FP32_MIN_PSNR, good
    assert bad["psnr"] < good["psnr"] - 10 and bad["ssim"] < good["ssim"], (good, bad)
    assert bad["latent_mad"] > 10 * good["latent_mad"]


def test_fid_and_kid_separate_good_from_damaged(generated):
    reference = generated["torch-fp32"][0]
    good = distribution_distance(reference, generated["ov-fp32"][0])
    bad = distribution_distance(reference, generated["ov-fp32-noised"][0])
    assert bad.fid > good.fid + 1 and bad.kid > good.kid, (good, bad)
