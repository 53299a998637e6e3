"""Stage 2 of the shapes model: the AutoencoderKL, trained to reconstruct the world's images.

The loss is L1 reconstruction (flat colours and hard edges: L1 keeps edges sharper than L2) plus Stable
Diffusion's small KL weight, which keeps the latents near a unit Gaussian without blurring them. No perceptual
or adversarial term: the images hold nothing those terms are for. After training, the latent scaling factor is
set the way SD's was: one over the standard deviation of training latents, so the UNet sees unit-variance input.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import world
from .stage import Stage, run_stage, step_seed, warmup_cosine
from .train_clip import pixel_values


@dataclass(frozen=True)
class VaeTraining:
    steps: int = 1200
    batch_size: int = 16
    learning_rate: float = 1e-3
    kl_weight: float = 1e-6
    warmup: int = 100
    seed: int = 0
    validate_every: int = 100
    checkpoint_every: int = 250


def reconstruction_error(vae, pixels: torch.Tensor) -> float:
    """Mean absolute error of the decoded latent mean, in [-1, 1] pixel units."""
    with torch.no_grad():
        decoded = vae.decode(vae.encode(pixels).latent_dist.mode()).sample
    return float((decoded - pixels).abs().mean())


def train_vae(vae, settings: VaeTraining, on_row: Callable[[dict], None] = lambda row: None,
              checkpoint: Path | None = None) -> list[dict]:
    """Trains `vae` in place (resuming from `checkpoint`), then sets its scaling factor; returns the rows."""
    held_out = [p for kind in ("single", "pair") for p in world.evaluation_prompts(kind)]
    held_pixels = pixel_values(world.sample(held_out, 64, seed=settings.seed + 20_000)[1])
    optimizer = torch.optim.AdamW(vae.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(settings.warmup, settings.steps))

    def validate() -> float:
        vae.eval()
        error = reconstruction_error(vae, held_pixels)
        vae.train()
        return error

    def step(number: int) -> float:
        seed = step_seed(settings.seed, number)
        pixels = pixel_values(world.training_mixture(settings.batch_size, seed=seed)[1])
        posterior = vae.encode(pixels).latent_dist
        decoded = vae.decode(posterior.sample(torch.Generator().manual_seed(seed))).sample
        loss = (decoded - pixels).abs().mean() + settings.kl_weight * posterior.kl().mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    vae.train()
    rows = run_stage(Stage("vae", settings.steps, step, validate,
                           {"vae": vae, "optimizer": optimizer, "schedule": schedule}, settings.validate_every,
                           settings.checkpoint_every), checkpoint, on_row)
    vae.eval()
    vae.register_to_config(scaling_factor=latent_scaling_factor(vae, settings.seed))
    return rows


def latent_scaling_factor(vae, seed: int) -> float:
    pixels = pixel_values(world.training_mixture(256, seed=seed + 30_000)[1])
    with torch.no_grad():
        latents = vae.encode(pixels).latent_dist.sample(torch.Generator().manual_seed(seed))
    return float(1.0 / latents.std())

