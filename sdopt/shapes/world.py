"""The shapes world: captioned 64x64 images of one or two flat shapes on a plain background, made from a seed.

Everything here is exact and deterministic, so the model trained on it can be scored without a learned judge
(bench/probes/adherence.py reads the attributes back from pixels). Prompts are split by attribute combination:
evaluation prompts name combinations that no training caption names, and two colour-shape pairs never appear in
training at all, so adherence on them measures composition rather than recall.
"""
import hashlib
import json
import os
import random
import re
import shutil
import zlib
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64  # image side in pixels; the model is trained at this size only
BACKGROUND = (238, 238, 232)
# Hues far apart in CIELAB and far from the background, so a scorer can name them from a few pixels.
COLORS = {"red": (214, 39, 40), "orange": (245, 136, 20), "yellow": (232, 204, 24), "green": (44, 160, 64),
          "blue": (36, 84, 212), "purple": (140, 52, 178)}
SHAPES = ("circle", "square", "triangle", "cross")
SIZES = {"small": 14, "large": 24}  # side of the shape's bounding box in pixels
_GRID = (14, 32, 50)  # anchor coordinates of the 3x3 position grid
POSITIONS = {  # name -> (x, y) of the bounding box's centre, and the caption's phrase
    "top left": ((_GRID[0], _GRID[0]), "at the top left"), "top": ((_GRID[1], _GRID[0]), "at the top"),
    "top right": ((_GRID[2], _GRID[0]), "at the top right"), "left": ((_GRID[0], _GRID[1]), "on the left"),
    "center": ((_GRID[1], _GRID[1]), "in the center"), "right": ((_GRID[2], _GRID[1]), "on the right"),
    "bottom left": ((_GRID[0], _GRID[2]), "at the bottom left"), "bottom": ((_GRID[1], _GRID[2]), "at the bottom"),
    "bottom right": ((_GRID[2], _GRID[2]), "at the bottom right"),
}
RELATIONS = ("above", "below", "left of", "right of")
JITTER = 2  # pixels each way around an anchor
PAIR_SIZE = "small"  # both objects of a two-object scene
# Colour-shape pairs that no training caption names (in any size, position or relation).
UNSEEN_PAIRS = (("purple", "triangle"), ("orange", "cross"))
HELD_OUT_SHARE = 0.42  # of the other single-object combinations: evaluation only
HELD_OUT_PAIR_SHARE = 0.2  # of the two-object combinations
SUPERSAMPLE = 4  # shapes are drawn at 4x and box-filtered down: soft edges, as a trained VAE draws them


@dataclass(frozen=True)
class Thing:
    shape: str
    color: str
    size: str


@dataclass(frozen=True)
class Prompt:
    """What a caption asks for: one thing at a position, or two things in a relation."""
    things: tuple[Thing, ...]
    position: str | None = None  # single-object prompts
    relation: str | None = None  # two-object prompts: things[0] <relation> things[1]
    text: str = field(default="", compare=False)

    @property
    def kind(self) -> str:
        return "single" if len(self.things) == 1 else "pair"


def caption(prompt: Prompt) -> str:
    if prompt.kind == "single":
        t = prompt.things[0]
        return f"a {t.size} {t.color} {t.shape} {POSITIONS[prompt.position][1]}"
    a, b = prompt.things
    return f"{_article(a.color)} {a.color} {a.shape} {prompt.relation} {_article(b.color)} {b.color} {b.shape}"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


_WORD = r"[a-z]+"
_SINGLE = re.compile(rf"a ({'|'.join(SIZES)}) ({_WORD}) ({_WORD}) "
                     rf"({'|'.join(sorted((p for _, p in POSITIONS.values()), key=len, reverse=True))})")
_PAIR = re.compile(rf"an? ({_WORD}) ({_WORD}) ({'|'.join(RELATIONS)}) an? ({_WORD}) ({_WORD})")
_PHRASES = {phrase: name for name, (_, phrase) in POSITIONS.items()}


def parse(text: str) -> Prompt | None:
    """The prompt a caption of this world's grammar asks for; None for anything else (not scorable)."""
    words = " ".join(text.lower().strip().rstrip(".").split())
    if match := _SINGLE.fullmatch(words):
        size, color, shape, phrase = match.groups()
        if color in COLORS and shape in SHAPES:
            return Prompt((Thing(shape, color, size),), position=_PHRASES[phrase], text=text)
    elif match := _PAIR.fullmatch(words):
        color_a, shape_a, relation, color_b, shape_b = match.groups()
        if {color_a, color_b} <= set(COLORS) and {shape_a, shape_b} <= set(SHAPES):
            return Prompt((Thing(shape_a, color_a, PAIR_SIZE), Thing(shape_b, color_b, PAIR_SIZE)),
                          relation=relation, text=text)
    return None


def vocabulary() -> list[str]:
    """Every word a caption can use (the tokenizer gives each one token)."""
    words = {"a", "an", *SIZES, *COLORS, *SHAPES}
    for _, phrase in POSITIONS.values():
        words.update(phrase.split())
    for relation in RELATIONS:
        words.update(relation.split())
    return sorted(words)


# --- the split -----------------------------------------------------------------------------------------------
def _unit(text: str) -> float:
    """A fixed pseudo-random number in [0, 1) for a combination: the split never depends on a library's RNG."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16 ** 12


def _all_single() -> list[Prompt]:
    return [Prompt((Thing(shape, color, size),), position=position)
            for size, color, shape, position in product(SIZES, COLORS, SHAPES, POSITIONS)]


def _all_pairs() -> list[Prompt]:
    things = [Thing(shape, color, PAIR_SIZE) for color, shape in product(COLORS, SHAPES)]
    return [Prompt((a, b), relation=r) for a, b, r in product(things, things, RELATIONS)
            if (a.color, a.shape) != (b.color, b.shape)]


def names_unseen_pair(prompt: Prompt) -> bool:
    """Whether the prompt names a colour-shape pair that training never shows."""
    return any((t.color, t.shape) in UNSEEN_PAIRS for t in prompt.things)


def is_held_out(prompt: Prompt) -> bool:
    share = HELD_OUT_SHARE if prompt.kind == "single" else HELD_OUT_PAIR_SHARE
    return names_unseen_pair(prompt) or _unit(caption(prompt)) < share


def training_prompts(kind: str) -> list[Prompt]:
    made = _all_single() if kind == "single" else _all_pairs()
    return [p for p in made if not is_held_out(p)]


def evaluation_prompts(kind: str, count: int | None = None, seed: int = 0) -> list[Prompt]:
    """Held-out prompts in a fixed shuffled order (the first `count`), texts filled in."""
    made = [p for p in (_all_single() if kind == "single" else _all_pairs()) if is_held_out(p)]
    random.Random(seed).shuffle(made)
    if count is not None and count > len(made):
        raise ValueError(f"{count} {kind} evaluation prompts asked for; the world holds out {len(made)}")
    return [Prompt(p.things, p.position, p.relation, caption(p)) for p in made[:count]]


# --- scenes and rendering --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Placed:
    thing: Thing
    center: tuple[int, int]  # (x, y) of the bounding box's centre, pixels


def place(prompt: Prompt, rng: random.Random) -> tuple[Placed, ...]:
    """Where the prompt's things go in one image: anchors plus jitter; a pair side by side along its axis."""
    def jitter(value: int) -> int:
        return value + rng.randint(-JITTER, JITTER)
    if prompt.kind == "single":
        x, y = POSITIONS[prompt.position][0]
        return (Placed(prompt.things[0], (jitter(x), jitter(y))),)
    first, second = (18, 46) if prompt.relation in ("above", "left of") else (46, 18)
    across = rng.randint(20, 44)
    if prompt.relation in ("above", "below"):
        centers = ((across, jitter(first)), (across, jitter(second)))
    else:
        centers = ((jitter(first), across), (jitter(second), across))
    return tuple(Placed(t, c) for t, c in zip(prompt.things, centers))


def _outline(shape: str, cx: float, cy: float, side: float) -> list[tuple[float, float]] | None:
    h = side / 2
    if shape == "triangle":
        return [(cx, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "cross":
        t = side / 6  # arms a third of the side wide
        return [(cx - t, cy - h), (cx + t, cy - h), (cx + t, cy - t), (cx + h, cy - t), (cx + h, cy + t),
                (cx + t, cy + t), (cx + t, cy + h), (cx - t, cy + h), (cx - t, cy + t), (cx - h, cy + t),
                (cx - h, cy - t), (cx - t, cy - t)]
    return None


def render(placed: tuple[Placed, ...]) -> np.ndarray:
    """HxWx3 uint8."""
    s = SUPERSAMPLE
    image = Image.new("RGB", (SIZE * s, SIZE * s), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for item in placed:
        side = SIZES[item.thing.size] * s
        cx, cy = item.center[0] * s, item.center[1] * s
        color = COLORS[item.thing.color]
        box = (cx - side / 2, cy - side / 2, cx + side / 2 - 1, cy + side / 2 - 1)
        if item.thing.shape == "circle":
            draw.ellipse(box, fill=color)
        elif item.thing.shape == "square":
            draw.rectangle(box, fill=color)
        else:
            draw.polygon(_outline(item.thing.shape, cx - 0.5, cy - 0.5, side), fill=color)
    return np.asarray(image.resize((SIZE, SIZE), Image.Resampling.BOX))


def sample(prompts: list[Prompt], count: int, seed: int, distinct: bool = False
           ) -> tuple[list[str], np.ndarray]:
    """`count` (caption, image) pairs drawn from `prompts` with a seed: (captions, N x H x W x 3 uint8).
    `distinct`: no prompt twice (a contrastive batch must not hold the same caption as its own negative)."""
    if distinct and count > len(prompts):
        raise ValueError(f"{count} distinct prompts asked of {len(prompts)}")
    rng = random.Random(seed)
    picks = iter(rng.sample(range(len(prompts)), count)) if distinct else None
    captions, images = [], np.empty((count, SIZE, SIZE, 3), np.uint8)
    for i in range(count):
        prompt = prompts[next(picks) if distinct else rng.randrange(len(prompts))]
        captions.append(caption(prompt))
        images[i] = render(place(prompt, rng))
    return captions, images


def training_mixture(count: int, seed: int, pair_share: float = 0.3, distinct: bool = False
                     ) -> tuple[list[str], np.ndarray]:
    """Training pairs: single-object scenes, and two-object scenes at `pair_share`."""
    pairs = int(round(count * pair_share))
    single_captions, single_images = sample(training_prompts("single"), count - pairs, seed, distinct)
    pair_captions, pair_images = sample(training_prompts("pair"), pairs, seed + 1, distinct)
    order = np.random.default_rng(seed).permutation(count)
    captions = single_captions + pair_captions
    images = np.concatenate([single_images, pair_images])
    return [captions[i] for i in order], images[order]


def training_pair(index: int, seed: int, pair_share: float = 0.3) -> tuple[str, np.ndarray]:
    """The index-th pair of an endless training stream: the same whatever else is drawn, so a pool of training
    images can be made lazily and a short run sees exactly the first images a long one sees."""
    rng = random.Random(seed * 1_000_003 + index)
    kind = "pair" if rng.random() < pair_share else "single"
    prompts = training_prompts(kind)
    prompt = prompts[rng.randrange(len(prompts))]
    return caption(prompt), render(place(prompt, rng))


def calibration_captions(count: int, seed: int = 7) -> list[str]:
    """Training captions to calibrate int8 on: what the model is asked for, never the held-out prompts."""
    return [training_pair(index, seed)[0] for index in range(count)]


BENCHMARK_PAIRS = 100  # two-object prompts in the benchmark set: reported, no bar


def benchmark_captions() -> tuple[str, ...]:
    """The quality suites' prompts on a shapes model: every held-out single-object prompt (the adherence bar's
    set, unseen combinations included), then a fixed draw of held-out two-object prompts."""
    return tuple(caption(p) for p in evaluation_prompts("single")
                 + evaluation_prompts("pair", BENCHMARK_PAIRS, seed=0))


def truth_image(text: str, seed: int) -> np.ndarray:
    """What the world itself draws for a caption and seed: the reference images FID/KID compare against."""
    prompt = parse(text)
    if prompt is None:
        raise ValueError(f"{text!r} is not a caption of the shapes world")
    return render(place(prompt, random.Random(zlib.crc32(f"{text}|{seed}".encode()))))


def write_imagefolder(out, count: int, seed: int = 0) -> None:
    """`count` training pairs as an image-caption folder (metadata.jsonl with file_name and text), the layout
    QAT's --data reads; written beside and renamed into place, so a stopped run leaves nothing half-made."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists: pick a new folder")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    captions, images = training_mixture(count, seed)
    lines = []
    for index, (text, image) in enumerate(zip(captions, images)):
        name = f"{index:05d}.png"
        Image.fromarray(image).save(partial / name)
        lines.append(json.dumps({"file_name": name, "text": text}))
    (partial / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    os.replace(partial, out)
