"""Stage 1 of the shapes model: CLIP trained contrastively on the world's captioned images.

Its text tower becomes the pipeline's text encoder (frozen while the UNet trains, as in Stable Diffusion); the
whole model is the real CLIP that CLIP score runs. The held-out loss is the same contrastive loss on a fixed
batch of evaluation-prompt images, drawn apart from training's.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from . import world


@dataclass(frozen=True)
class ClipTraining:
    steps: int = 3000
    batch_size: int = 128
    learning_rate: float = 5e-4
    weight_decay: float = 0.1
    warmup: int = 100
    seed: int = 0
    validate_every: int = 100


def pixel_values(images: np.ndarray) -> torch.Tensor:
    """N x H x W x 3 uint8 -> N x 3 x H x W in [-1, 1] (the world's own normalization, no ImageNet statistics)."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def contrastive_loss(clip, input_ids: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    return clip(input_ids=input_ids, pixel_values=pixels, return_loss=True).loss


def train_clip(clip, tokenizer, settings: ClipTraining, on_row: Callable[[dict], None] = lambda row: None):
    """Trains `clip` in place; calls `on_row` with {step, loss, validation_loss} (the latter before the first
    step, every validate_every steps and at the end)."""
    torch.manual_seed(settings.seed)

    def encode(captions):
        return tokenizer(captions, padding="max_length", truncation=True, return_tensors="pt").input_ids

    held_out = [p for kind in ("single", "pair") for p in world.evaluation_prompts(kind)]
    held_captions, held_images = world.sample(held_out, 256, seed=settings.seed + 10_000)
    held_ids, held_pixels = encode(held_captions), pixel_values(held_images)

    def validation() -> float:
        clip.eval()
        with torch.no_grad():
            loss = float(contrastive_loss(clip, held_ids, held_pixels))
        clip.train()
        return loss

    optimizer = torch.optim.AdamW(clip.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / settings.warmup))
    on_row({"step": 0, "loss": None, "validation_loss": validation()})
    clip.train()
    for step in range(1, settings.steps + 1):
        captions, images = world.training_mixture(settings.batch_size, seed=settings.seed * 1_000_003 + step)
        loss = contrastive_loss(clip, encode(captions), pixel_values(images))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(clip.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        row = {"step": step, "loss": loss.item(), "validation_loss": None}
        if step % settings.validate_every == 0 or step == settings.steps:
            row["validation_loss"] = validation()
        on_row(row)
    clip.eval()
    return clip
