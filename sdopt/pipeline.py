"""Open a built variant and generate with it; the same call for PyTorch and OpenVINO artifacts.

Timing belongs to `bench`; this module only runs. Every variant starts from the same initial latents
for a given seed, so images differ only because the variants differ.
"""
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import schedulers
from .cache import verify
from .errors import BadArgument

SD_LATENT_CHANNELS, SD_VAE_SCALE = 4, 8  # Stable Diffusion 1.x; every model's own are read from its configs


def check_size(height: int, width: int, scale: int = SD_VAE_SCALE) -> None:
    for side, value in (("height", height), ("width", width)):
        if value <= 0 or value % scale:
            raise BadArgument(f"{side} {value} is not a positive multiple of {scale} (the VAE's scale "
                              f"factor); pick e.g. {max(scale, value // scale * scale)}")


def check_steps(steps: int) -> None:
    if steps <= 0:
        raise BadArgument(f"steps must be at least 1, got {steps}")


def initial_latents(seed: int, height: int, width: int, channels: int = SD_LATENT_CHANNELS,
                    scale: int = SD_VAE_SCALE) -> torch.Tensor:
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn((1, channels, height // scale, width // scale), generator=generator)


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def ov_config(threads: int, perf_counters: bool = False) -> dict:
    """Explicit runtime settings: OpenVINO would otherwise pick bf16 on CPUs that have it."""
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1",
              "INFERENCE_NUM_THREADS": str(threads)}
    if perf_counters:
        config["PERF_COUNT"] = "YES"
    return config


OV_READ_BACK = ("INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "NUM_STREAMS",
                "ENABLE_CPU_PINNING", "ENABLE_HYPER_THREADING", "EXECUTION_MODE_HINT", "CPU_DENORMALS_OPTIMIZATION")


@dataclass
class Generation:
    images: list
    latents: torch.Tensor  # final latents, before VAE decoding


class Variant:
    """A loaded artifact. `open_variant` loads; `compile` is separate so callers can time it."""

    def __init__(self, folder: Path, threads: int | None = None, perf_counters: bool = False):
        self.folder = Path(folder)
        self.manifest = verify(self.folder)
        material = self.manifest["material"]
        self.name = self.manifest["name"]
        self.runtime = material["recipe"]["runtime"]
        self.resolution = material.get("resolution")
        self.threads = threads or default_threads()
        self.config = ov_config(self.threads, perf_counters) if self.runtime == "openvino" else {
            "torch_threads": self.threads}
        if self.runtime == "openvino":
            from optimum.intel import OVStableDiffusionPipeline
            self.pipe = OVStableDiffusionPipeline.from_pretrained(str(self.folder), export=False, compile=False,
                                                                  ov_config=self.config)
        else:
            from diffusers import StableDiffusionPipeline
            torch.set_num_threads(self.threads)
            self.pipe = StableDiffusionPipeline.from_pretrained(self.folder, torch_dtype=torch.float32)
            self.tome = None
            if (self.folder / "tome.json").is_file():  # torch ToMe is a patch, applied on opening
                import json

                from .tome import apply_tome
                self.tome = apply_tome(self.pipe.unet, **json.loads((self.folder / "tome.json").read_text()))
        self.pipe.set_progress_bar_config(disable=True)
        # The latent grid comes from the model (the VAE's depth, the UNet's channels), never from SD's constants.
        self.vae_scale_factor = int(self.pipe.vae_scale_factor)
        self.latent_channels = int(self.pipe.unet.config.in_channels)
        self._own_scheduler = self.pipe.scheduler
        self._schedulers = {}

    def _scheduler(self, name: str):
        """One scheduler per kind, reused as a diffusers pipeline reuses its own: `set_timesteps`, which every
        generation calls, resets its state, and building one from its config costs milliseconds per image."""
        if name not in self._schedulers:
            self._schedulers[name] = schedulers.make(name, self._own_scheduler)
        return self._schedulers[name]

    def compile(self) -> None:
        if self.runtime == "openvino":
            self.pipe.compile()

    def settings_in_force(self) -> dict:
        """What the runtime really uses, read back from it rather than from what was asked for: threads, and for
        OpenVINO each compiled component's precision, performance hint, streams and pinning."""
        found = {"runtime": self.runtime, "torch_threads": torch.get_num_threads(),
                 "torch_interop_threads": torch.get_num_interop_threads()}
        if self.runtime != "openvino":
            return found | {"dtype": str(self.pipe.unet.dtype).removeprefix("torch.")}
        for name in ("text_encoder", "unet", "vae_decoder"):
            compiled = getattr(self.pipe, name).request
            if compiled is None:
                found[name] = "not compiled"
                continue
            read = {key: compiled.get_property(key) for key in OV_READ_BACK}
            precision = read["INFERENCE_PRECISION_HINT"]
            read["INFERENCE_PRECISION_HINT"] = getattr(precision, "get_type_name", lambda: str(precision))()
            found[name] = {key: value if isinstance(value, (int, float, bool)) else str(value)
                           for key, value in read.items()}
        return found

    def predict_noise(self, sample, timestep, encoder_hidden_states):
        """One UNet call on given inputs (numpy), whatever the runtime: for teacher-forced comparisons."""
        import numpy as np
        with torch.inference_mode():
            if self.runtime == "openvino":
                output = self.pipe.unet(sample=sample, timestep=timestep, encoder_hidden_states=encoder_hidden_states)
            else:
                output = self.pipe.unet(torch.from_numpy(sample), torch.from_numpy(np.asarray(timestep)),
                                        torch.from_numpy(encoder_hidden_states))
        return _numpy(_prediction(output))

    def call_points(self) -> dict:
        """name -> (object, method name): what the pipeline really calls for each part of a generation, so that a
        wrapper there sees every call. diffusers and optimum-intel both call `text_encoder(...)` and `unet(...)`
        (which dispatch to `forward`), `vae.decode(...)` (not the VAE's `forward`), `scheduler.step(...)` and
        `image_processor.postprocess(...)`: turning the decoded tensor into PIL images is a fixed cost per image
        that is a few percent of a small model's generation."""
        return {"text_encoder": (self.pipe.text_encoder, "forward"), "unet": (self.pipe.unet, "forward"),
                "vae_decode": (self.pipe.vae, "decode"), "scheduler_step": (self.pipe.scheduler, "step"),
                "image_postprocess": (self.pipe.image_processor, "postprocess")}

    def generate(self, prompt: str, steps: int, scheduler: str, seed: int, height: int, width: int,
                 guidance_scale: float = 7.5, on_step: Callable[[int], None] | None = None,
                 wrap: Callable[[str, Callable], Callable] | None = None) -> Generation:
        """One image. `wrap(name, method)`, if given, replaces each call point's method for this generation
        (the scheduler is made anew for every generation, so wrapping must happen here)."""
        check_steps(steps)
        check_size(height, width, self.vae_scale_factor)
        if self.resolution and [height, width] != list(self.resolution):
            raise BadArgument(f"variant {self.name} was built with static shapes for {self.resolution[0]}x"
                              f"{self.resolution[1]}, not {height}x{width}: build it with that --resolution")
        self.pipe.scheduler = self._scheduler(scheduler)
        final = {}

        def step_end(pipe, step, timestep, tensors):
            final["latents"] = tensors["latents"]
            if on_step:
                on_step(step)
            return tensors

        with torch.inference_mode(), _wrapped(self.call_points() if wrap else {}, wrap):
            out = self.pipe(prompt, num_inference_steps=steps, guidance_scale=guidance_scale, height=height,
                            width=width, latents=initial_latents(seed, height, width, self.latent_channels,
                                                                 self.vae_scale_factor),
                            generator=torch.Generator("cpu").manual_seed(seed), callback_on_step_end=step_end,
                            callback_on_step_end_tensor_inputs=["latents"])
        return Generation(out.images, final["latents"].clone())


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


UNET_INPUTS = ("sample", "timestep", "encoder_hidden_states")


def _numpy(value):
    import numpy as np
    return np.array(value.detach().numpy() if hasattr(value, "detach") else value)


def _prediction(output):
    """The noise prediction out of a diffusers or optimum-intel UNet output."""
    if isinstance(output, (tuple, list)):
        return output[0]
    return output.sample if hasattr(output, "sample") else output[0]


@contextmanager
def capture_unet_inputs(variant: "Variant", outputs: bool = False):
    """Within the block, every UNet call's inputs (and, if asked, its prediction under "output") are
    appended as numpy copies to the yielded list."""
    unet, calls = variant.pipe.unet, []
    original = unet.forward

    def recording_forward(sample, timestep, encoder_hidden_states, *args, **kwargs):
        call = {name: _numpy(value) for name, value in zip(UNET_INPUTS, (sample, timestep, encoder_hidden_states))}
        result = original(sample, timestep, encoder_hidden_states, *args, **kwargs)
        if outputs:
            call["output"] = _numpy(_prediction(result))
        calls.append(call)
        return result

    unet.forward = recording_forward
    try:
        yield calls
    finally:
        unet.forward = original


def open_variant(folder: Path, threads: int | None = None, perf_counters: bool = False,
                 compile: bool = True) -> Variant:
    variant = Variant(folder, threads, perf_counters)
    if compile:
        variant.compile()
    return variant
