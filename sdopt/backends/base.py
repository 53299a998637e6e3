"""What every backend shares: opening an artifact, the schedulers, one generation with a step callback and
wrappers at each part the pipeline calls, and teacher-forced UNet calls.

A backend subclass loads the runtime's pipeline and says what its runtime really uses; timing belongs to
`bench`. Every backend starts from the same initial latents for a given seed, so images differ only because
the variants differ.
"""
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import families, schedulers
from ..cache import verify
from ..deepcache import STEP_FEATURE, StepCache, check_deepcache, is_full_step
from ..errors import BadArgument, CorruptArtifact


def check_size(height: int, width: int, scale: int = families.DEFAULT.vae_scale) -> None:
    for side, value in (("height", height), ("width", width)):
        if value <= 0 or value % scale:
            raise BadArgument(f"{side} {value} is not a positive multiple of {scale} (the VAE's scale "
                              f"factor); pick e.g. {max(scale, value // scale * scale)}")


def check_steps(steps: int) -> None:
    if steps <= 0:
        raise BadArgument(f"steps must be at least 1, got {steps}")


def check_guidance(scale, sampling: families.Sampling = families.DEFAULT.sampling) -> float:
    """The guidance scale as a float the model can sample with (`sampling`: how it takes guidance)."""
    return sampling.check_guidance(scale)


def initial_latents(seed: int, height: int, width: int, channels: int = families.DEFAULT.latent_channels,
                    scale: int = families.DEFAULT.vae_scale) -> torch.Tensor:
    return seeded_noise(seed, height, width, channels, scale)[0]


def seeded_noise(seed: int, height: int, width: int, channels: int = families.DEFAULT.latent_channels,
                 scale: int = families.DEFAULT.vae_scale) -> tuple[torch.Tensor, torch.Generator]:
    """(initial latents, the generator after drawing them): one noise stream per seed, the latents first, then
    whatever noise the steps draw (ancestral samplers, LCM). diffusers draws so when it makes the latents itself,
    and so does OpenVINO GenAI's TorchGenerator, so every runtime draws the same noise for a seed."""
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn((1, channels, height // scale, width // scale), generator=generator), generator


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@dataclass
class Generation:
    images: list
    latents: torch.Tensor  # final latents, before VAE decoding
    # A runtime that times its own parts (GenAI, whose calls Python cannot wrap): part -> seconds of each call,
    # as the timers of `bench` would have recorded them, and the seconds of each denoising step.
    parts: dict | None = None
    step_seconds: list | None = None


class Variant:
    """A loaded artifact on one runtime. `open_variant` loads; `compile` is separate so callers can time it.

    Subclasses set `runtime` (the recipes' name for it), `static_shapes` (whether artifacts are built for one
    resolution) and `layer_counters` support, and implement `_load`, `settings_in_force` and `_unet_call`."""
    runtime: str = ""
    static_shapes: bool = False
    has_layer_counters: bool = False

    def __init__(self, folder: Path, threads: int | None = None, perf_counters: bool = False):
        self.folder = Path(folder)
        self.manifest = verify(self.folder)
        self.name = self.manifest["name"]
        self.resolution = self.manifest["material"].get("resolution")
        self.family = families.of_folder(self.folder)
        self.sampling = self.family.sampling_of(self.folder)
        if "stages" not in self.manifest:
            raise CorruptArtifact(f"{self.folder} lists no stages in its manifest (built by an older sdopt): rebuild "
                                  f"it with --rebuild")
        # What the artifact was made of, in build order; the stages marked on_open are this backend's to apply.
        self.stages = self.manifest["stages"]
        self.threads = threads or default_threads()
        self.pipe = self._load(perf_counters)
        # The latent grid comes from the model (the VAE's depth, the UNet's channels), never from SD's constants.
        self.vae_scale_factor, self.latent_channels = self._latent_grid()
        self._own_scheduler = self._shipped_scheduler()
        self._schedulers = {}
        # Step caching (sdopt/deepcache.py): the manifest says so, the subclass gives the two graphs.
        self.step_cache = self.stage_options("deepcache")
        self.step_graphs = self._step_graphs() if self.step_cache else None
        self.distilled = self.stage_options("lcm")  # a step-distilled student (sdopt/methods/lcm.py)

    def sampled_as(self, steps: int, scheduler: str) -> tuple[int, str]:
        """The steps and scheduler a request for `steps` steps of `scheduler` runs with: as asked, except on a
        step-distilled student, which answers every request in its own few LCM steps."""
        check_steps(steps)
        return (self.distilled["steps"], "lcm") if self.distilled else (steps, scheduler)

    def stage_options(self, stage: str) -> dict | None:
        """The options of `stage` if the artifact has it (None if it does not)."""
        return next((entry["options"] for entry in self.stages if entry["stage"] == stage), None)

    def on_open(self, known: dict) -> None:
        """Apply each stage the build left to opening (`known`: stage -> applier(options)); a stage this backend
        does not know how to apply is refused, never skipped. Step caching is every backend's: its loop is chosen
        in `denoise` (a runtime whose loop cannot switch graphs refuses it in `_step_graphs`)."""
        known = {"deepcache": lambda options: None} | known
        for entry in self.stages:
            if entry.get("on_open"):
                if entry["stage"] not in known:
                    raise BadArgument(f"{self.name}: the {self.runtime} runtime cannot apply its {entry['stage']} "
                                      f"stage on opening")
                known[entry["stage"]](entry["options"])

    def _load(self, perf_counters: bool):
        """The runtime's diffusers-style pipeline for `self.folder`."""
        raise NotImplementedError

    def _latent_grid(self) -> tuple[int, int]:
        """(VAE scale factor, latent channels) of the loaded model; here from a diffusers-style pipeline."""
        self.pipe.set_progress_bar_config(disable=True)
        return int(self.pipe.vae_scale_factor), int(self.pipe.unet.config.in_channels)

    def _shipped_scheduler(self):
        """The diffusers scheduler the model ships with: every scheduler by name is made from its config."""
        return self.pipe.scheduler

    def _step_graphs(self) -> tuple:
        """(full, shallow): callables of step caching's two graphs (see sdopt/deepcache.py), each an object with
        a `forward` so that call points can wrap it."""
        raise BadArgument(f"the {self.runtime} runtime cannot switch graphs between steps, so {self.name} (step "
                          f"caching) cannot run on it")

    def compile(self) -> None:
        """Make the pipeline ready to run (a no-op where loading already did it)."""

    def settings_in_force(self) -> dict:
        """What the runtime really uses, read back from it rather than from what was asked for."""
        return {"runtime": self.runtime, "torch_threads": torch.get_num_threads(),
                "torch_interop_threads": torch.get_num_interop_threads()}

    def layer_counters(self, inputs: dict, repeats: int) -> list[dict]:
        """Per-layer time of UNet calls on `inputs`: rows of node_type, exec_type (the kernel) and ms, for each
        of `repeats` calls. Only runtimes that count per layer have it."""
        raise NotImplementedError(f"{self.runtime} has no per-layer counters")

    def _unet_call(self, inputs: dict):
        """One call of this runtime's UNet on numpy inputs named as the family's `denoiser_inputs`."""
        raise NotImplementedError

    def _scheduler(self, name: str):
        """One scheduler per kind, reused as a diffusers pipeline reuses its own: `set_timesteps`, which every
        generation calls, resets its state, and building one from its config costs milliseconds per image."""
        if name not in self._schedulers:
            self._schedulers[name] = schedulers.make(name, self._own_scheduler)
        return self._schedulers[name]

    def unet_calls(self, scheduler: str, steps: int) -> tuple[int, int]:
        """(UNet calls, of which full) a generation of `steps` steps makes with `scheduler`: schedulers may add
        calls (PNDM's warm-up step), and step caching runs the full UNet only on its schedule."""
        steps, scheduler = self.sampled_as(steps, scheduler)
        made = schedulers.make(scheduler, self._own_scheduler)
        made.set_timesteps(steps, device="cpu")
        calls = len(made.timesteps)
        if not self.step_cache:
            return calls, calls
        return calls, sum(is_full_step(index, self.step_cache["interval"]) for index in range(calls))

    def predict_noise(self, call: dict):
        """One UNet call on recorded inputs (numpy, as `capture_unet_inputs` keeps them), whatever the runtime:
        for teacher-forced comparisons."""
        inputs = {name: call[name] for name in self.family.denoiser_inputs if name in call}
        with torch.inference_mode():
            return _numpy(_prediction(self._unet_call(inputs)))

    def call_points(self) -> dict:
        """name -> (object, method name): what the pipeline really calls for each part of a generation, so that a
        wrapper there sees every call. diffusers and optimum-intel both call `text_encoder(...)` and `unet(...)`
        (which dispatch to `forward`), `vae.decode(...)` (not the VAE's `forward`), `scheduler.step(...)` and
        `image_processor.postprocess(...)`: turning the decoded tensor into PIL images is a fixed cost per image
        that is a few percent of a small model's generation."""
        points = {name: (getattr(self.pipe, name), "forward") for name in self.family.text_encoders}
        points |= {"unet": (self.pipe.unet, "forward"),
                  "vae_decode": (self.pipe.vae, "decode"), "scheduler_step": (self.pipe.scheduler, "step"),
                  "image_postprocess": (self.pipe.image_processor, "postprocess")}
        if self.step_graphs:  # "unet" is then the full graph's calls only, and the shallow ones are their own part
            full, shallow = self.step_graphs
            points |= {"unet": (full, "forward"), "unet_shallow": (shallow, "forward")}
        return points

    def check_call(self, steps: int, guidance_scale, height: int, width: int) -> float:
        """Refuse a generation this variant cannot make; the guidance scale as a float."""
        check_steps(steps)
        if guidance_scale is None:
            guidance_scale = self.sampling.guidance
        guidance_scale = self.sampling.check_guidance(guidance_scale)
        check_size(height, width, self.vae_scale_factor)
        if self.resolution and [height, width] != list(self.resolution):
            raise BadArgument(f"variant {self.name} was built with static shapes for {self.resolution[0]}x"
                              f"{self.resolution[1]}, not {height}x{width}: build it with that --resolution")
        return guidance_scale

    def generate(self, prompt: str, steps: int, scheduler: str, seed: int, height: int, width: int,
                 guidance_scale: float | None = None, on_step: Callable[[int], None] | None = None,
                 wrap: Callable[[str, Callable], Callable] | None = None, decode: bool = True) -> Generation:
        """One image. `wrap(name, method)`, if given, replaces each call point's method for this generation
        (the scheduler is chosen per generation, so wrapping must happen here). guidance_scale None: the model
        family's default. decode False: final latents only, no images (calibration needs no VAE decode, which at
        SDXL 1024 costs 24 s a call)."""
        steps, scheduler = self.sampled_as(steps, scheduler)
        guidance_scale = self.check_call(steps, guidance_scale, height, width)
        self.pipe.scheduler = self._scheduler(scheduler)
        final = {}

        def step_end(pipe, step, timestep, tensors):
            final["latents"] = tensors["latents"]
            if on_step:
                on_step(step)
            return tensors

        with torch.inference_mode(), _wrapped(self.call_points() if wrap else {}, wrap):
            images = self.denoise(prompt, steps, guidance_scale, height, width, seed, step_end, decode)
        return Generation(images, final["latents"].clone())

    def denoise(self, prompt: str, steps: int, guidance_scale: float, height: int, width: int, seed: int,
                step_end: Callable, decode: bool = True) -> list:
        """The denoising loop, from prompt to images: the pipeline's own. A method that changes the loop (step
        caching, which skips parts of the UNet on some steps) runs `own_loop` instead; the UNet call points and
        `step_end(pipe, step, timestep, {"latents": ...})` after every step keep timing and capture working."""
        if self.step_cache:
            check_deepcache(self.step_cache["interval"], self.step_cache["branch"], steps=steps)
            full, shallow = self.step_graphs
            cache = StepCache(full, shallow, self.step_cache["interval"])
            return self.own_loop(prompt, steps, guidance_scale, height, width, seed, step_end, cache.predict, decode)
        latents, generator = seeded_noise(seed, height, width, self.latent_channels, self.vae_scale_factor)
        out = self.pipe(prompt, num_inference_steps=steps, guidance_scale=guidance_scale, height=height,
                        width=width, latents=latents, generator=generator, callback_on_step_end=step_end,
                        callback_on_step_end_tensor_inputs=["latents"], output_type="pil" if decode else "latent")
        return out.images if decode else []

    def own_loop(self, prompt: str, steps: int, guidance_scale: float, height: int, width: int, seed: int,
                 step_end: Callable, predict: Callable, decode: bool = True) -> list:
        """The pipeline's denoising loop, step by step as diffusers' StableDiffusionPipeline runs it, with the UNet
        call replaced by `predict(step_index, model_input, timestep, prompt_embeddings)`: for methods that choose
        per step which graph runs (step caching). Encoding, scheduler, guidance, decoding and post-processing
        stay the pipeline's own, so every scheduler works and the call points still see every part."""
        pipe = self.pipe
        positive, negative = pipe.encode_prompt(prompt, torch.device("cpu"), 1, True)
        embeddings = torch.cat([negative, positive])
        latents, generator = seeded_noise(seed, height, width, self.latent_channels, self.vae_scale_factor)
        pipe.scheduler.set_timesteps(steps, device="cpu")
        latents = latents * pipe.scheduler.init_noise_sigma
        extra = pipe.prepare_extra_step_kwargs(generator, 0.0)
        for index, timestep in enumerate(pipe.scheduler.timesteps):
            model_input = pipe.scheduler.scale_model_input(torch.cat([latents] * 2), timestep)
            unconditional, conditional = predict(index, model_input, timestep, embeddings).chunk(2)
            noise = unconditional + guidance_scale * (conditional - unconditional)
            latents = pipe.scheduler.step(noise, timestep, latents, **extra, return_dict=False)[0]
            latents = step_end(pipe, index, timestep, {"latents": latents})["latents"]
        if not decode:
            return []
        image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False, generator=generator)[0]
        return pipe.image_processor.postprocess(image, output_type="pil", do_denormalize=[True] * image.shape[0])


@contextmanager
def _wrapped(points: dict, wrap):
    """Replace each point's method by `wrap(name, method)` as an instance attribute; restore on exit."""
    saved = []
    try:
        for name, (owner, attribute) in points.items():
            had_own = attribute in vars(owner)
            saved.append((owner, attribute, had_own, vars(owner).get(attribute)))
            setattr(owner, attribute, wrap(name, getattr(owner, attribute)))
        yield
    finally:
        for owner, attribute, had_own, previous in reversed(saved):
            if had_own:
                setattr(owner, attribute, previous)
            else:
                delattr(owner, attribute)


def _numpy(value):
    return np.array(value.detach().numpy() if hasattr(value, "detach") else value)


def _prediction(output):
    """The noise prediction out of a diffusers or optimum-intel UNet output."""
    if isinstance(output, (tuple, list)):
        return output[0]
    return output.sample if hasattr(output, "sample") else output[0]


@contextmanager
def capture_unet_inputs(variant: Variant, outputs: bool = False):
    """Within the block, every UNet call's inputs (and, if asked, its prediction under "output") are
    appended as numpy copies to the yielded list."""
    with _recorded_calls(variant.pipe.unet, variant.family.denoiser_inputs, outputs) as calls:
        yield calls


@contextmanager
def capture_shallow_inputs(variant: Variant):
    """As capture_unet_inputs, for step caching's shallow graph: its inputs, the cached feature among them."""
    if not variant.step_graphs:
        raise BadArgument(f"{variant.name} caches no steps: it has no shallow graph to record")
    with _recorded_calls(variant.step_graphs[1], variant.family.denoiser_inputs + (STEP_FEATURE,)) as calls:
        yield calls


@contextmanager
def _recorded_calls(owner, names: tuple, outputs: bool = False):
    """Replace `owner.forward` by one that appends each call's `names` inputs (positional, by keyword, or in
    diffusers' `added_cond_kwargs`, as SDXL passes its pooled embedding and time ids) as numpy copies, and if asked
    its prediction under "output", to the yielded list; restored on exit. An input the call leaves out (None) is
    left out of the record."""
    calls, original = [], owner.forward

    def recording_forward(*args, **kwargs):
        given = dict(zip(names, args)) | kwargs | (kwargs.get("added_cond_kwargs") or {})
        call = {name: _numpy(given[name]) for name in names if given.get(name) is not None}
        result = original(*args, **kwargs)
        if outputs:
            call["output"] = _numpy(_prediction(result))
        calls.append(call)
        return result

    owner.forward = recording_forward
    try:
        yield calls
    finally:
        owner.forward = original
