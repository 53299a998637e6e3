"""What builds learn from, cached: UNet inputs recorded for calibration, and QAT's training examples."""
from pathlib import Path

import numpy as np

from . import families, progress
from .artifacts import without_token_merging
from .backends import capture_shallow_inputs, capture_unet_inputs, open_variant
from .cache import Cache
from .prompts import CALIBRATION_PROMPTS, TRAINING_PROMPTS
from .shapes.world import calibration_captions, write_imagefolder
from .training_data import WORLD_DATA, Examples, read_imagefolder, write_teacher_images

WORLD_IMAGES = 2048  # QAT's training set on a shapes model: 2048 of its world's training pairs
WORLD_VERSION = 1  # bump when the world draws differently, so cached training sets are redrawn


def record_unet_inputs(variant, prompts, steps: int, height: int, width: int, scheduler: str | None = None,
                       guidance_scale: float | None = None, graph: str = "unet"):
    """Run the pipeline and keep every UNet call's inputs: the calibration set NNCF sees. `graph`: "unet", or
    with step caching "unet_shallow", whose calls also carry the cached feature. `scheduler` None: the kind the
    model is made for."""
    scheduler = scheduler or variant.sampling.scheduler
    with (capture_unet_inputs if graph == "unet" else capture_shallow_inputs)(variant) as calls, \
            progress.bar("calibration prompts", len(prompts)) as shown:
        for index, prompt in enumerate(prompts):
            variant.generate(prompt, steps, scheduler, seed=index, height=height, width=width,
                             guidance_scale=guidance_scale, decode=False)
            shown(index + 1)
    return [{name: value.astype(np.float32) for name, value in call.items() if name != "timestep"}
            | {"timestep": call["timestep"].astype(np.float32).reshape(-1)[:1]} for call in calls]


def calibration_prompts(count: int, world: bool = False) -> list[str]:
    """Generic prompts, or on a model with a world (shapes) its training captions: calibration should see the
    activations the model meets when asked what it was trained for."""
    if world:
        return calibration_captions(count)
    return list(CALIBRATION_PROMPTS[:count])


def calibration_samples(base: Path, recipe, size, cache: Cache, world: bool = False,
                        guidance_scale: float | None = None, graph: str = "unet") -> list:
    """UNet inputs recorded while the base pipeline (ToMe left out) generates at the model's guidance scale;
    cached, since recording is slow at scale and every int8 recipe calibrated the same way shares them. `graph`
    "unet_shallow": the shallow graph's calls of a step-caching base."""
    base = without_token_merging(base)
    sampling = families.of_folder(base).sampling_of(base)
    if guidance_scale is None:
        guidance_scale = sampling.guidance
    prompts = calibration_prompts(recipe.calibration_prompts, world)
    material = {"base": base.name, "prompts": prompts, "steps": recipe.calibration_steps, "resolution": list(size),
                "guidance": guidance_scale}
    if graph != "unet":  # the key of every existing calibration set stays as it was
        material["graph"] = graph
    if sampling.scheduler != "pndm":
        material["scheduler"] = sampling.scheduler

    def record(out: Path) -> None:
        with progress.stage(f"recording UNet inputs from {len(prompts)} calibration prompts x "
                            f"{recipe.calibration_steps} steps"):
            samples = record_unet_inputs(open_variant(base), prompts, recipe.calibration_steps, *size,
                                         guidance_scale=guidance_scale, graph=graph)
        np.savez(out / "samples.npz", **{f"{i}/{k}": v for i, s in enumerate(samples) for k, v in s.items()})

    folder = cache.get_or_build("calibration", f"{graph.replace('_', '-')}-{base.name}", material, record)
    with np.load(folder / "samples.npz") as stored:
        samples = {}
        for name in stored.files:
            index, key = name.split("/")
            samples.setdefault(int(index), {})[key] = stored[name]
    return [samples[i] for i in sorted(samples)]


# The VAE decoder's calibration: final latents of this many prompts, each denoised this many steps (fewer would
# hand the decoder noisier latents than it meets in use).
VAE_CALIBRATION = {"prompts": 8, "steps": 10}


def vae_calibration_samples(base: Path, size, world: bool, guidance_scale: float) -> list:
    """The VAE decoder's inputs as the base variant's pipeline hands them to it: final latents over the VAE's
    scaling factor, one per calibration prompt."""
    variant = open_variant(base)
    scaling = float(variant.pipe.vae.config.scaling_factor)
    prompts = calibration_prompts(VAE_CALIBRATION["prompts"], world)
    samples = []
    with progress.stage(f"drawing {len(prompts)} final latents for the VAE decoder's calibration"), \
            progress.bar("calibration prompts", len(prompts)) as shown:
        for index, prompt in enumerate(prompts):
            latents = variant.generate(prompt, VAE_CALIBRATION["steps"], variant.sampling.scheduler, seed=index,
                                       height=size[0], width=size[1], guidance_scale=guidance_scale,
                                       decode=False).latents
            samples.append({"latent_sample": (latents / scaling).numpy().astype(np.float32)})
            shown(index + 1)
    return samples


def training_examples(torch_folder: Path, training, size, cache: Cache):
    """Latents and caption embeddings of the training images: a user folder, or (data-free) teacher images."""
    folder = Path(training.data) if training.data and training.data != WORLD_DATA else None
    if training.data == WORLD_DATA:
        material = {"world": "shapes", "images": WORLD_IMAGES, "seed": training.seed, "version": WORLD_VERSION}

        def render(out: Path) -> None:
            with progress.stage(f"drawing {WORLD_IMAGES} training images of the shapes world"):
                write_imagefolder(out / "data", WORLD_IMAGES, seed=training.seed)
        folder = cache.get_or_build("training-data", f"world-shapes-{training.seed}", material, render) / "data"
    elif folder is None:
        count = training.data_free_images
        prompts = [TRAINING_PROMPTS[i % len(TRAINING_PROMPTS)] for i in range(count)]
        material = {"teacher": torch_folder.name, "prompts": prompts, "steps": training.data_free_steps,
                    "resolution": list(size), "seed": training.seed}

        def draw(out: Path) -> None:
            with progress.stage(f"data-free mode: the FP32 teacher draws {count} training images "
                                f"({training.data_free_steps} steps each)"):
                write_teacher_images(open_variant(torch_folder), prompts, training.data_free_steps, size, out,
                                     seed=training.seed)

        folder = cache.get_or_build("training-data", f"teacher-{torch_folder.name}", material, draw)
    pipe = families.of_folder(torch_folder).diffusers_class().from_pretrained(torch_folder)
    return Examples(pipe, read_imagefolder(folder), size)
