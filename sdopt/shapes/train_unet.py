"""Stage 3 of the shapes model: the UNet, trained on Stable Diffusion's noise objective in the trained VAE's
latent space, conditioned on the frozen CLIP text tower.

- Caption dropout: a share of captions is replaced by the empty prompt, the unconditional branch that
  classifier-free guidance subtracts at sampling time.
- Min-SNR loss weighting (Hang et al., 2023, gamma 5): the many low-noise timesteps stop dominating the
  gradient, which shortens training several-fold at equal quality; the held-out loss stays the plain MSE.
- EMA of the weights (diffusers' EMAModel, with warm-up): the EMA is what ships and what the held-out loss
  measures.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..families import STABLE_DIFFUSION
from . import world
from .stage import Stage, run_stage, step_seed, warmup_cosine
from .train_clip import pixel_values


@dataclass(frozen=True)
class UnetTraining:
    steps: int = 5600
    batch_size: int = 32
    pool: int = 16384  # training images encoded once: the VAE encoder would cost more per step than the UNet
    learning_rate: float = 6e-4
    warmup: int = 200
    caption_dropout: float = 0.1
    snr_gamma: float = 5.0
    ema_decay: float = 0.9995
    seed: int = 0
    validate_every: int = 200
    checkpoint_every: int = 250


def noise_scheduler():
    from diffusers import DDPMScheduler

    keys = ("beta_start", "beta_end", "beta_schedule", "num_train_timesteps")
    return DDPMScheduler(**{k: STABLE_DIFFUSION.scheduler_config[k] for k in keys})


class Conditioning:
    """Captions -> the frozen text tower's hidden states, and images -> scaled VAE latents; both without
    gradient, as Stable Diffusion trains its UNet."""

    def __init__(self, vae, text_encoder, tokenizer):
        self.vae, self.text_encoder, self.tokenizer = vae.eval(), text_encoder.eval(), tokenizer
        self.scale = vae.config.scaling_factor

    @torch.no_grad()
    def text(self, captions: list[str]) -> torch.Tensor:
        ids = self.tokenizer(captions, padding="max_length", truncation=True, return_tensors="pt").input_ids
        return self.text_encoder(ids).last_hidden_state

    @torch.no_grad()
    def latents(self, images, generator: torch.Generator | None) -> torch.Tensor:
        posterior = self.vae.encode(pixel_values(images)).latent_dist
        return (posterior.mode() if generator is None else posterior.sample(generator)) * self.scale

    @torch.no_grad()
    def posteriors(self, images, chunk: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
        """The latent distributions' means and standard deviations, scaled, for images drawn from later."""
        means, stds = [], []
        for start in range(0, len(images), chunk):
            posterior = self.vae.encode(pixel_values(images[start:start + chunk])).latent_dist
            means.append(posterior.mean * self.scale)
            stds.append(posterior.std * self.scale)
        return torch.cat(means), torch.cat(stds)


class LatentPool:
    """`size` training pairs (world.training_pair 0..size-1), each rendered and encoded the first time a batch
    draws it and kept: the VAE encoder costs more per image than the UNet's step, and a short run encodes only
    what it draws. Each draw samples the latent from its posterior, as encoding afresh would."""

    def __init__(self, conditioning: Conditioning, size: int, seed: int):
        self.conditioning, self.size, self.seed = conditioning, size, seed
        self.captions, self.means, self.stds = {}, {}, {}

    def batch(self, count: int, generator: torch.Generator) -> tuple[list[str], torch.Tensor]:
        picks = torch.randint(0, self.size, (count,), generator=generator).tolist()
        missing = sorted(set(picks) - set(self.captions))
        if missing:
            made = [world.training_pair(index, self.seed) for index in missing]
            means, stds = self.conditioning.posteriors(np.stack([image for _, image in made]))
            for index, (text, _), mean, std in zip(missing, made, means, stds):
                self.captions[index], self.means[index], self.stds[index] = text, mean, std
        means = torch.stack([self.means[i] for i in picks])
        noise = torch.randn(means.shape, generator=generator)
        return [self.captions[i] for i in picks], means + torch.stack([self.stds[i] for i in picks]) * noise


def train_unet(unet, conditioning: Conditioning, settings: UnetTraining,
               on_row: Callable[[dict], None] = lambda row: None, checkpoint: Path | None = None) -> list[dict]:
    """Trains `unet` in place (resuming from `checkpoint`); at the end its weights are the EMA's."""
    from diffusers.training_utils import EMAModel

    scheduler = noise_scheduler()
    alphas = scheduler.alphas_cumprod
    held_out = [p for kind in ("single", "pair") for p in world.evaluation_prompts(kind)]
    held_captions, held_images = world.sample(held_out, 64, seed=settings.seed + 40_000, distinct=True)
    fixed = torch.Generator().manual_seed(settings.seed + 40_001)
    held_latents = conditioning.latents(held_images, None)
    held_noise = torch.randn(held_latents.shape, generator=fixed)
    held_steps = torch.linspace(0, scheduler.config.num_train_timesteps - 1, len(held_captions)).long()
    held_inputs = (scheduler.add_noise(held_latents, held_noise, held_steps), held_steps,
                   conditioning.text(held_captions))

    optimizer = torch.optim.AdamW(unet.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(settings.warmup, settings.steps))
    ema = EMAModel(unet.parameters(), decay=settings.ema_decay, use_ema_warmup=True)

    def validate() -> float:
        ema.store(unet.parameters())
        ema.copy_to(unet.parameters())
        unet.eval()
        with torch.no_grad():
            loss = float(torch.nn.functional.mse_loss(unet(*held_inputs).sample, held_noise))
        ema.restore(unet.parameters())
        unet.train()
        return loss

    pool = LatentPool(conditioning, settings.pool, settings.seed + 50_000)

    def step(number: int) -> float:
        generator = torch.Generator().manual_seed(step_seed(settings.seed, number))
        captions, latents = pool.batch(settings.batch_size, generator)
        drop = torch.rand(len(captions), generator=generator) < settings.caption_dropout
        captions = ["" if dropped else text for text, dropped in zip(captions, drop.tolist())]
        noise = torch.randn(latents.shape, generator=generator)
        steps = torch.randint(0, scheduler.config.num_train_timesteps, (len(captions),), generator=generator)
        predicted = unet(scheduler.add_noise(latents, noise, steps), steps, conditioning.text(captions)).sample
        snr = alphas[steps] / (1 - alphas[steps])
        weight = torch.clamp(snr, max=settings.snr_gamma) / snr
        loss = (weight * ((predicted - noise) ** 2).mean(dim=(1, 2, 3))).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(unet.parameters())
        return loss.item()

    unet.train()
    rows = run_stage(Stage("unet", settings.steps, step, validate,
                           {"unet": unet, "optimizer": optimizer, "schedule": schedule, "ema": ema},
                           settings.validate_every,
                           settings.checkpoint_every), checkpoint, on_row)
    ema.copy_to(unet.parameters())
    unet.eval()
    return rows
