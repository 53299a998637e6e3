"""Run any variant under timers: load, compile, first call, each UNet step, each component.

Timers wrap the components' `forward`, which both diffusers modules and optimum-intel's OpenVINO parts
call from `__call__`, so the same code times PyTorch and OpenVINO.
"""
import time
from dataclasses import dataclass, field
from pathlib import Path

from sdopt.pipeline import open_variant


@dataclass
class Timings:
    """Seconds per call of each component, and the wall time between step-end callbacks."""
    calls: dict = field(default_factory=dict)
    step_ends: list = field(default_factory=list)

    def step_seconds(self) -> list:
        ends = self.step_ends
        return [b - a for a, b in zip(ends, ends[1:])]


class Runner:
    def __init__(self, artifact: Path, threads: int | None = None):
        started = time.perf_counter()
        self.variant = open_variant(artifact, threads, compile=False)
        loaded = time.perf_counter()
        self.variant.compile()
        self.load_s, self.compile_s = loaded - started, time.perf_counter() - loaded
        self.first_call_s = None
        self.timings = Timings()
        for name, component in self.variant.components.items():
            component.forward = self._timed(name, component.forward)

    def _timed(self, name, forward):
        def timed_forward(*args, **kwargs):
            started = time.perf_counter()
            try:
                return forward(*args, **kwargs)
            finally:
                self.timings.calls.setdefault(name, []).append(time.perf_counter() - started)
        return timed_forward

    def generate(self, prompt, steps, scheduler, seed, height, width):
        """One image; timings of this call replace the previous call's."""
        self.timings = Timings()
        on_step = lambda _step: self.timings.step_ends.append(time.perf_counter())
        started = time.perf_counter()
        result = self.variant.generate(prompt, steps, scheduler, seed, height, width, on_step=on_step)
        if self.first_call_s is None:
            self.first_call_s = time.perf_counter() - started
        return result
