"""Training examples for QAT: an image-caption folder, or images the FP32 teacher generates (data-free mode).

The folder layout is the one of diffusers' training scripts and datasets' `imagefolder`: images plus a
`metadata.jsonl` whose lines carry `file_name` and `text`. Either way the examples end as VAE latents and
text embeddings, computed once, since the VAE and the text encoder stay frozen during QAT.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import progress
from .errors import BadArgument

WORLD_DATA = "world"  # QAT's data=world: a shapes model's own world, drawn on demand (sdopt/inputs.py)

METADATA = "metadata.jsonl"


@dataclass
class Examples:
    latents: torch.Tensor  # [N, 4, h, w], scaled by the VAE's scaling factor
    embeddings: torch.Tensor  # [N, 77, d]: each caption through the text encoder
    empty_embedding: torch.Tensor  # [1, 77, d]: the empty prompt, what classifier-free guidance pairs with

    def __len__(self) -> int:
        return len(self.latents)


def read_imagefolder(folder: Path) -> list[tuple[Path, str]]:
    """(image path, caption) pairs; any problem is reported with the line that has it."""
    folder = Path(folder)
    metadata = folder / METADATA
    if not metadata.is_file():
        raise BadArgument(f"training data folder {folder} has no {METADATA}: expected one JSON object per line "
                          f'with "file_name" and "text" (the diffusers/datasets imagefolder layout)')
    pairs = []
    for number, line in enumerate(metadata.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            name, text = entry["file_name"], entry["text"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadArgument(f"{metadata} line {number} is not a JSON object with file_name and text "
                              f"({type(exc).__name__}: {exc})") from None
        if not (folder / name).is_file():
            raise BadArgument(f"{metadata} line {number} names {name!r}, which is not a file in {folder}")
        pairs.append((folder / name, str(text)))
    if not pairs:
        raise BadArgument(f"{metadata} lists no images")
    return pairs


def write_teacher_images(teacher, prompts: list[str], steps: int, size: tuple[int, int], out: Path,
                         seed: int = 0) -> None:
    """Data-free mode: the FP32 teacher draws the training set, written as an imagefolder."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    with progress.bar("teacher images", len(prompts)) as shown:
        for index, prompt in enumerate(prompts):
            image = teacher.generate(prompt, steps, "dpm++2m", seed=seed + index, height=size[0],
                                     width=size[1]).images[0]
            name = f"{index:05d}.png"
            image.save(out / name)
            lines.append(json.dumps({"file_name": name, "text": prompt}))
            shown(index + 1)
    (out / METADATA).write_text("\n".join(lines) + "\n")


def encode(pipe, pairs: list[tuple[Path, str]], size: tuple[int, int]) -> Examples:
    """Latents (VAE mean, deterministic) and text embeddings with a diffusers pipeline's own encoders."""
    latents, embeddings = [], []
    with torch.inference_mode():
        for path, text in pairs:
            try:
                image = Image.open(path).convert("RGB")
            except OSError as exc:
                raise BadArgument(f"training image {path} could not be read: {exc}") from None
            pixels = _to_tensor(_center_crop(image, size))
            latent = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
            latents.append(latent)
            embeddings.append(_embed(pipe, text))
        empty = _embed(pipe, "")
    return Examples(torch.cat(latents), torch.cat(embeddings), empty)


def _embed(pipe, text: str) -> torch.Tensor:
    ids = pipe.tokenizer(text, padding="max_length", max_length=pipe.tokenizer.model_max_length, truncation=True,
                         return_tensors="pt").input_ids
    return pipe.text_encoder(ids)[0]


def _center_crop(image, size: tuple[int, int]):
    height, width = size
    scale = max(height / image.height, width / image.width)
    image = image.resize((max(width, round(image.width * scale)), max(height, round(image.height * scale))))
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def _to_tensor(image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
