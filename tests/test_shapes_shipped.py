"""The shapes model in the repository: its files match the manifest, it fits the size limit, it loads offline
as `--model shapes`, and the first steps of every training stage, run again from scratch, reproduce the losses
its training logged (the model is never retrained here)."""
import json
from dataclasses import replace

import pytest
from transformers import CLIPTokenizer

from sdopt.shapes import model
from sdopt.shapes.manifest import verify
from sdopt.shapes.train import LOG, ShapesTraining
from sdopt.sources import SHIPPED, resolve

FOLDER = SHIPPED["shapes"]
pytestmark = pytest.mark.skipif(not (FOLDER / "model_index.json").is_file(), reason="the shapes model is not shipped")
STEPS = 2  # within every stage's warm-up, where the learning rate does not depend on the run's length


@pytest.fixture(scope="module")
def shipped():
    manifest = verify(FOLDER)
    log = [json.loads(line) for line in (FOLDER / LOG).read_text().splitlines()]
    return manifest, ShapesTraining.from_dict(manifest["settings"]), log


def logged(log, stage):
    return {row["step"]: row for row in log if row["stage"] == stage}


def same_losses(rows, expected):
    """Step 0's held-out loss and the training loss of every step run; float summation order differs between
    ISAs, so to a relative 1e-3."""
    assert rows[0]["validation_loss"] == pytest.approx(expected[0]["validation_loss"], rel=1e-3)
    for row in rows[1:]:
        assert row["loss"] == pytest.approx(expected[row["step"]]["loss"], rel=1e-3), row["step"]


def test_the_shipped_files_match_the_manifest_and_fit_30_mb(shipped):
    manifest, _, _ = shipped
    total = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert total <= 30e6, f"{total / 1e6:.1f} MB"
    assert set(manifest["files"]) >= {"unet/diffusion_pytorch_model.safetensors", "clip/model.safetensors",
                                      "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"}
    assert not list(FOLDER.rglob("*.bin")) and not list(FOLDER.rglob("*.ckpt"))
    source = resolve("shapes")
    assert source.kind == "shapes" and source.native_resolution == 64
    assert {"clip", "vae", "unet"} <= set(manifest["stages"]) and manifest["command"].startswith("sdopt train-shapes")


def test_the_first_steps_of_every_stage_reproduce_the_logged_losses(shipped):
    import torch
    from diffusers import AutoencoderKL
    from transformers import CLIPModel

    from sdopt.shapes.train_clip import train_clip
    from sdopt.shapes.train_unet import Conditioning, train_unet
    from sdopt.shapes.train_vae import train_vae
    _, settings, log = shipped
    tokenizer = CLIPTokenizer.from_pretrained(FOLDER / "tokenizer")
    rows = train_clip(model.clip_model(tokenizer, settings.clip.seed), tokenizer, replace(settings.clip, steps=STEPS))
    same_losses(rows, logged(log, "clip"))
    rows = train_vae(model.vae_model(settings.vae.seed), replace(settings.vae, steps=STEPS))
    same_losses(rows, logged(log, "vae"))
    # The UNet trained against the finished CLIP and VAE, which are the shipped ones.
    conditioning = Conditioning(AutoencoderKL.from_pretrained(FOLDER / "vae"),
                                model.text_encoder(CLIPModel.from_pretrained(FOLDER / "clip")), tokenizer)
    rows = train_unet(model.unet_model(settings.unet.seed), conditioning, replace(settings.unet, steps=STEPS))
    same_losses(rows, logged(log, "unet"))


def test_the_scorer_is_right_about_what_the_shipped_vae_draws():
    """The decoder softens corners (a small square's box fill falls into a circle's range); the scorer must
    still be right about the truth as the model can draw it: renders of the held-out prompts, encoded and
    decoded by the shipped VAE, score as their captions."""
    import numpy as np
    import torch
    from diffusers import AutoencoderKL

    from bench.probes.adherence import summarize
    from sdopt.shapes import world
    from sdopt.shapes.train_clip import pixel_values
    vae = AutoencoderKL.from_pretrained(FOLDER / "vae").eval()
    captions = world.benchmark_captions()
    renders = np.stack([world.truth_image(c, 0) for c in captions])
    with torch.no_grad():
        decoded = vae.decode(vae.encode(pixel_values(renders)).latent_dist.mode()).sample
    images = ((decoded.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    single = summarize(list(captions[:201]), list(images[:201]))
    pairs = summarize(list(captions[201:]), list(images[201:]))
    assert single["all"]["rate"] >= 0.98, single
    assert pairs["all"]["rate"] >= 0.9, pairs
