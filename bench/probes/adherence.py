"""Prompt adherence on the shapes world, read from pixels with no learned model (GenEval's questions, exactly).

An image is segmented from its background (the median of its border), each connected component is one object,
and its colour (nearest palette colour in CIELAB), shape (geometry: how much of its bounding box and of its
convex hull it fills), size (bounding box) and position (bounding box centre, nearest anchor) are named and
compared with what the caption asks. A caption outside the world's grammar is "not scorable", never guessed.
"""
import math
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from sdopt.shapes import world

FOREGROUND_DELTA_E = 20.0  # CIELAB distance from the background above which a pixel belongs to an object
MIN_AREA = 24  # pixels; smaller components are speckle (a small triangle covers about 90)
SIZE_THRESHOLD = (world.SIZES["small"] + world.SIZES["large"]) / 2
MAX_SIDE = 1.5 * world.SIZES["large"]  # a component wider or taller than this is no object of the world
MIN_SOLIDITY = 0.5  # nor is one this ragged (noise, smears): it is found, named shape "none", and fails the count
RELATION_MARGIN = 4  # pixels the centres must differ by along the relation's axis
# (fill of the bounding box, fill of the convex hull, corner occupancy) of each shape, as drawn; measured on
# renders, and what a model's softer, less regular shapes are compared against. Corner occupancy is the share of
# the bounding box outside its inscribed ellipse that the object covers: 1 for a square, 0.2 for a circle. It
# tells a square whose corners a decoder has softened (box fill down to 0.83) from a circle (up to 0.87),
# which the two fills alone cannot.
SHAPE_PROTOTYPES = {"circle": (0.82, 0.95, 0.18), "square": (1.0, 1.0, 1.0), "triangle": (0.55, 0.92, 0.37),
                    "cross": (0.59, 0.76, 0.03)}
SINGLE_ATTRIBUTES = ("count", "color", "shape", "size", "position")
PAIR_ATTRIBUTES = ("count", "color", "shape", "relation")


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """... x 3 uint8 sRGB -> CIELAB (D65)."""
    c = np.asarray(rgb, np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


_PALETTE = {name: srgb_to_lab(np.array(rgb, np.uint8)) for name, rgb in world.COLORS.items()}
_ANCHORS = {name: anchor for name, (anchor, _) in world.POSITIONS.items()}


@dataclass(frozen=True)
class Found:
    color: str
    shape: str
    size: str
    position: str
    center: tuple[float, float]  # (x, y) of the bounding box's centre
    area: int
    fill: float
    solidity: float


class AdherenceError(ValueError):
    pass


def _hull_area(mask: np.ndarray) -> float:
    from scipy.spatial import ConvexHull
    ys, xs = np.nonzero(mask)
    corners = np.concatenate([np.stack([xs + dx, ys + dy], 1) for dx in (0, 1) for dy in (0, 1)])
    try:
        return float(ConvexHull(corners).volume)
    except Exception:  # degenerate (a line of pixels): no area to fill
        return float(mask.sum())


def _corner_occupancy(component: np.ndarray) -> float:
    height, width = component.shape
    y, x = np.mgrid[0:height, 0:width]
    outside = ((x + 0.5 - width / 2) / (width / 2)) ** 2 + ((y + 0.5 - height / 2) / (height / 2)) ** 2 > 1
    return float(component[outside].mean()) if outside.any() else 1.0


def find_objects(image: np.ndarray) -> list[Found]:
    """The objects in one HxWx3 uint8 image, largest first."""
    from scipy import ndimage
    image = np.asarray(image)
    if image.shape != (world.SIZE, world.SIZE, 3):
        raise AdherenceError(f"an image of the shapes world is {world.SIZE}x{world.SIZE}x3, got {image.shape}")
    lab = srgb_to_lab(image)
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    background = np.median(border, axis=0)
    mask = np.linalg.norm(lab - background, axis=-1) > FOREGROUND_DELTA_E
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    found = []
    for index, box in enumerate(ndimage.find_objects(labels), 1):
        component = labels[box] == index
        area = int(component.sum())
        if area < MIN_AREA:
            continue
        core = ndimage.binary_erosion(component)  # edges are blended with the background
        pixels = lab[box][core if core.any() else component]
        mean = pixels.mean(axis=0)
        color = min(_PALETTE, key=lambda name: float(np.linalg.norm(_PALETTE[name] - mean)))
        height, width = component.shape
        fill, solidity = area / (height * width), area / _hull_area(component)
        features = (fill, solidity, _corner_occupancy(component))
        shape = min(SHAPE_PROTOTYPES, key=lambda name: math.dist(features, SHAPE_PROTOTYPES[name]))
        if max(height, width) > MAX_SIDE or solidity < MIN_SOLIDITY:
            shape = "none"
        center = ((box[1].start + box[1].stop) / 2, (box[0].start + box[0].stop) / 2)
        position = min(_ANCHORS, key=lambda name: math.dist(center, _ANCHORS[name]))
        size = "small" if max(height, width) < SIZE_THRESHOLD else "large"
        found.append(Found(color, shape, size, position, center, area, round(fill, 3), round(solidity, 3)))
    return sorted(found, key=lambda f: -f.area)


def _holds(relation: str, a: Found, b: Found) -> bool:
    (ax, ay), (bx, by) = a.center, b.center
    return {"above": by - ay, "below": ay - by, "left of": bx - ax, "right of": ax - bx}[relation] \
        >= RELATION_MARGIN


def score(prompt, image: np.ndarray) -> dict | None:
    """attribute -> right or wrong (plus "all"), for a caption (or a parsed world.Prompt); None: not scorable."""
    if isinstance(prompt, str):
        prompt = world.parse(prompt)
        if prompt is None:
            return None
    found = find_objects(image)
    count_right = len(found) == len(prompt.things) and all(f.shape != "none" for f in found)
    if prompt.kind == "single":
        want = prompt.things[0]
        got = found[0] if found else None
        result = {"count": count_right,
                  "color": got is not None and got.color == want.color,
                  "shape": got is not None and got.shape == want.shape,
                  "size": got is not None and got.size == want.size,
                  "position": got is not None and got.position == prompt.position}
    else:
        best = {"count": count_right, "color": False, "shape": False, "relation": False}
        for a, b in permutations(found[:2], 2) if len(found) >= 2 else ():
            colors = (a.color, b.color) == tuple(t.color for t in prompt.things)
            shapes = (a.shape, b.shape) == tuple(t.shape for t in prompt.things)
            candidate = {"count": count_right, "color": colors, "shape": shapes,
                         "relation": colors and shapes and _holds(prompt.relation, a, b)}
            if sum(candidate.values()) > sum(best.values()):
                best = candidate
        result = best
    result["all"] = all(result.values())
    return result


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """95% interval of a proportion from `trials` images (Wilson's: sound at 0% and 100% too)."""
    from scipy.stats import binomtest
    if trials == 0:
        return (0.0, 1.0)
    interval = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(interval.low), float(interval.high))


def summarize(prompts: list, images: list) -> dict:
    """Adherence over a set of images: per attribute the share right with its 95% interval, and how many
    prompts could not be scored (outside the world's grammar)."""
    if len(prompts) != len(images):
        raise AdherenceError(f"{len(prompts)} prompts for {len(images)} images")
    scores = [score(p, image) for p, image in zip(prompts, images)]
    scored = [s for s in scores if s is not None]
    summary = {"images": len(scored), "not_scorable": len(scores) - len(scored)}
    for attribute in dict.fromkeys(a for s in scored for a in s):
        right = sum(s[attribute] for s in scored if attribute in s)
        trials = sum(attribute in s for s in scored)
        low, high = wilson_interval(right, trials)
        summary[attribute] = {"rate": right / trials, "low": low, "high": high, "images": trials}
    return summary


def paired_change(prompts: list, reference_images: list, images: list) -> dict:
    """All-correct on the same prompts and seeds, image by image against a reference (torch-fp32): how many the
    variant gets wrong that the reference got right ("lost"), the reverse ("gained"), and McNemar's exact
    two-sided p on those discordant pairs. Paired, it sees a change that two separate intervals of 200 images
    cannot (they overlap until about 6 points apart)."""
    from scipy.stats import binomtest
    if not len(prompts) == len(reference_images) == len(images):
        raise AdherenceError(f"{len(prompts)} prompts for {len(reference_images)} reference and {len(images)} images")
    lost = gained = 0
    for prompt, reference, image in zip(prompts, reference_images, images):
        before, after = score(prompt, reference), score(prompt, image)
        if before is None or after is None:
            continue
        lost += before["all"] and not after["all"]
        gained += after["all"] and not before["all"]
    p = binomtest(lost, lost + gained).pvalue if lost + gained else 1.0
    return {"lost": lost, "gained": gained, "p": float(p)}
