"""Stage 1 of the shapes model: CLIP trained contrastively on the world's captioned images.

Its text tower becomes the pipeline's text encoder (frozen while the UNet trains, as in Stable Diffusion); the
whole model is the real CLIP that CLIP score runs. The held-out loss is the same contrastive loss on a fixed
batch of distinct evaluation prompts' images, drawn apart from training's.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import world
from .stage import Stage, run_stage, step_seed


@dataclass(frozen=True)
class ClipTraining:
    steps: int = 800
    batch_size: int = 96
    learning_rate: float = 5e-4
    weight_decay: float = 0.1
    warmup: int = 100
    seed: int = 0
    validate_every: int = 100
    checkpoint_every: int = 250


def pixel_values(images: np.ndarray) -> torch.Tensor:
    """N x H x W x 3 uint8 -> N x 3 x H x W in [-1, 1] (the world's own normalization, no ImageNet statistics)."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def contrastive_loss(clip, input_ids: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    return clip(input_ids=input_ids, pixel_values=pixels, return_loss=True).loss


def train_clip(clip, tokenizer, settings: ClipTraining, on_row: Callable[[dict], None] = lambda row: None,
               checkpoint: Path | None = None) -> list[dict]:
    """Trains `clip` in place (resuming from `checkpoint` if it exists); returns the stage's rows."""
    def encode(captions):
        return tokenizer(captions, padding="max_length", truncation=True, return_tensors="pt").input_ids

    held_out = [p for kind in ("single", "pair") for p in world.evaluation_prompts(kind)]
    held_captions, held_images = world.sample(held_out, 256, seed=settings.seed + 10_000, distinct=True)
    held_ids, held_pixels = encode(held_captions), pixel_values(held_images)
    optimizer = torch.optim.AdamW(clip.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / settings.warmup))

    def validate() -> float:
        clip.eval()
        with torch.no_grad():
            loss = float(contrastive_loss(clip, held_ids, held_pixels))
        clip.train()
        return loss

    def step(number: int) -> float:
        captions, images = world.training_mixture(settings.batch_size, seed=step_seed(settings.seed, number),
                                                  distinct=True)
        loss = contrastive_loss(clip, encode(captions), pixel_values(images))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(clip.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    clip.train()
    rows = run_stage(Stage("clip", settings.steps, step, validate,
                           {"clip": clip, "optimizer": optimizer, "schedule": schedule}, settings.validate_every,
                           settings.checkpoint_every), checkpoint, on_row)
    clip.eval()
    return rows
