"""Run any variant under timers: load, compile, first call, and every call of each part of a generation.

The timers wrap what the pipeline really calls (`Variant.call_points`: text encoder, each UNet call, the VAE
decode, each scheduler step), so the same code times PyTorch and OpenVINO, and what the parts add up to can be
checked against the whole. OpenVINO GenAI's loop runs in C++, out of the timers' reach: its generations carry
the parts as GenAI's own performance metrics measured them, and those take the timers' place.
"""
import functools
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sdopt.backends import open_variant


@dataclass
class Timings:
    """Seconds per call of each part, the wall time between step-end callbacks, and the whole generation."""
    calls: dict = field(default_factory=dict)
    step_ends: list = field(default_factory=list)
    total: float | None = None

    def step_seconds(self) -> list:
        ends = self.step_ends
        return [b - a for a, b in zip(ends, ends[1:])]

    def parts_seconds(self) -> float:
        return sum(sum(seconds) for seconds in self.calls.values())


class Runner:
    def __init__(self, artifact: Path, threads: int | None = None, guidance_scale: float | None = None,
                 opened: Callable | None = None):
        """opened(variant): called once it is loaded, before compilation (the suites' plugin hook)."""
        self.guidance_scale = guidance_scale  # every generation's (None: the family's): a run compares at one scale
        started = time.perf_counter()
        self.variant = open_variant(artifact, threads, compile=False)
        loaded = time.perf_counter()
        if opened is not None:
            opened(self.variant)
            loaded = time.perf_counter()  # a plugin's time is neither loading nor compiling
        self.variant.compile()
        self.load_s, self.compile_s = loaded - started, time.perf_counter() - loaded
        self.first_call_s = None
        self.timings = Timings()

    def _timed(self, name, method):
        calls = self.timings.calls.setdefault(name, [])

        # wraps: the pipeline reads the scheduler's `step` signature to decide whether to hand it the seeded
        # generator; a bare (*args, **kwargs) would hide it, and ancestral samplers would draw unseeded noise.
        @functools.wraps(method)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                calls.append(time.perf_counter() - started)
        return timed

    def generate(self, prompt, steps, scheduler, seed, height, width):
        """One image; timings of this call replace the previous call's."""
        self.timings = Timings()
        on_step = lambda _step: self.timings.step_ends.append(time.perf_counter())
        started = time.perf_counter()
        result = self.variant.generate(prompt, steps, scheduler, seed, height, width, self.guidance_scale,
                                       on_step=on_step, wrap=self._timed)
        self.timings.total = time.perf_counter() - started
        if result.parts is not None:  # a runtime that runs its own loop (GenAI) times its parts itself
            self.timings.calls = result.parts
            self.timings.step_ends = list(itertools.accumulate(result.step_seconds))
        if self.first_call_s is None:
            self.first_call_s = self.timings.total
        return result
