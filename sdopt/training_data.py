"""Training examples for QAT: an image-caption folder, or images the FP32 teacher generates (data-free mode).

The folder layout is the one of diffusers' training scripts and datasets' `imagefolder`: images plus a
`metadata.jsonl` whose lines carry `file_name` and `text`. Either way the examples end as VAE latents and
text embeddings, each computed once, the first time training draws it, since the VAE and the text encoder stay
frozen during QAT.
"""
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import progress
from .errors import BadArgument

WORLD_DATA = "world"  # QAT's data=world: a shapes model's own world, drawn on demand (sdopt/inputs.py)

METADATA = "metadata.jsonl"


class Examples:
    """Latents (VAE mean, deterministic, scaled by the VAE's factor) and caption embeddings of image-caption
    pairs, each encoded the first time training draws it: a short QAT reads a few images of a 2048-image
    folder. One image at a time, so a tensor is the same whatever order the examples are drawn in."""

    def __init__(self, pipe, pairs: list[tuple[Path, str]], size: tuple[int, int]):
        for path, _ in pairs:  # a bad file is named before training starts, not when it is first drawn
            _open(path)
        self._pairs, self._size = pairs, size
        # only what encoding needs: the pipeline's UNet is released with it
        self._vae, self._text_encoder, self._tokenizer = pipe.vae, pipe.text_encoder, pipe.tokenizer
        self._encoded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.empty_embedding = self._embed("")  # [1, 77, d]: what classifier-free guidance pairs with

    def __len__(self) -> int:
        return len(self._pairs)

    @property
    def encoded(self) -> int:
        """How many distinct examples training has drawn so far."""
        return len(self._encoded)

    def draw(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents [n, 4, h, w] and embeddings [n, 77, d] of the examples at `index`."""
        encoded = [self._encode(int(i)) for i in index]
        return torch.cat([latent for latent, _ in encoded]), torch.cat([embedding for _, embedding in encoded])

    def _encode(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i not in self._encoded:
            path, text = self._pairs[i]
            with torch.inference_mode():
                pixels = _to_tensor(_center_crop(_open(path).convert("RGB"), self._size))
                latent = self._vae.encode(pixels).latent_dist.mean * self._vae.config.scaling_factor
            self._encoded[i] = latent, self._embed(text)
        return self._encoded[i]

    def _embed(self, text: str) -> torch.Tensor:
        ids = self._tokenizer(text, padding="max_length", max_length=self._tokenizer.model_max_length,
                              truncation=True, return_tensors="pt").input_ids
        with torch.inference_mode():
            return self._text_encoder(ids)[0]


def _open(path: Path):
    try:
        return Image.open(path)
    except OSError as exc:
        raise BadArgument(f"training image {path} could not be read: {exc}") from None


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


def _center_crop(image, size: tuple[int, int]):
    height, width = size
    scale = max(height / image.height, width / image.width)
    image = image.resize((max(width, round(image.width * scale)), max(height, round(image.height * scale))))
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def _to_tensor(image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
