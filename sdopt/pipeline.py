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

LATENT_CHANNELS = 4
VAE_SCALE = 8


def check_size(height: int, width: int) -> None:
    for side, value in (("height", height), ("width", width)):
        if value <= 0 or value % VAE_SCALE:
            raise BadArgument(f"{side} {value} is not a positive multiple of {VAE_SCALE} (the VAE's scale "
                              f"factor); pick e.g. {max(VAE_SCALE, value // VAE_SCALE * VAE_SCALE)}")


def check_steps(steps: int) -> None:
    if steps <= 0:
        raise BadArgument(f"steps must be at least 1, got {steps}")


def initial_latents(seed: int, height: int, width: int) -> torch.Tensor:
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn((1, LATENT_CHANNELS, height // VAE_SCALE, width // VAE_SCALE), generator=generator)


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def ov_config(threads: int, perf_counters: bool = False) -> dict:
    """Explicit runtime settings: OpenVINO would otherwise pick bf16 on CPUs that have it."""
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1",
              "INFERENCE_NUM_THREADS": str(threads)}
    if perf_counters:
        config["PERF_COUNT"] = "YES"
    return config


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
        self._base_scheduler_config = self.pipe.scheduler.config

    def compile(self) -> None:
        if self.runtime == "openvino":
            self.pipe.compile()

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

    @property
    def components(self) -> dict:
        """The model parts whose `forward` a caller may wrap (for timing or recording inputs)."""
        names = ("text_encoder", "unet", "vae_decoder") if self.runtime == "openvino" else (
            "text_encoder", "unet", "vae")
        return {name: getattr(self.pipe, name) for name in names}

    def generate(self, prompt: str, steps: int, scheduler: str, seed: int, height: int, width: int,
                 guidance_scale: float = 7.5, on_step: Callable[[int], None] | None = None) -> Generation:
        check_steps(steps)
        check_size(height, width)
        if self.resolution and [height, width] != list(self.resolution):
            raise BadArgument(f"variant {self.name} was built with static shapes for {self.resolution[0]}x"
                              f"{self.resolution[1]}, not {height}x{width}: build it with that --resolution")
        self.pipe.scheduler = schedulers.make(scheduler, self._base_scheduler_config)
        final = {}

        def step_end(pipe, step, timestep, tensors):
            final["latents"] = tensors["latents"]
            if on_step:
                on_step(step)
            return tensors

        with torch.inference_mode():
            out = self.pipe(prompt, num_inference_steps=steps, guidance_scale=guidance_scale, height=height,
                            width=width, latents=initial_latents(seed, height, width),
                            generator=torch.Generator("cpu").manual_seed(seed), callback_on_step_end=step_end,
                            callback_on_step_end_tensor_inputs=["latents"])
        return Generation(out.images, final["latents"].clone())


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
