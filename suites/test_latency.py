"""End-to-end latency per variant x steps x scheduler (pytest-benchmark), per-step and per-component times."""
import statistics
from dataclasses import dataclass, field

import numpy as np
import pytest

NAMES = {"unet": "unet_call_median", "text_encoder": "text_encoder_median", "vae": "vae_decode_median",
         "vae_decoder": "vae_decode_median"}


@dataclass
class Timings:
    """Every timed sample of one case, pooled over its rounds (which --interleave spreads over the session)."""
    rounds: list = field(default_factory=list)  # seconds per generation
    per_step: list = field(default_factory=list)  # seconds
    per_call: dict = field(default_factory=dict)  # component -> seconds per call
    rounds_done: int = 0


@pytest.fixture(scope="session")
def timings_of():
    pooled = {}
    return lambda case: pooled.setdefault(case, Timings())


def test_latency(case, latency_round, settings, runner_for, benchmark, record, timings_of):
    runner = runner_for(case.variant)
    height, width = settings.resolution
    call = dict(prompt=settings.prompts[0], steps=case.steps, scheduler=case.scheduler, seed=settings.seed,
                height=height, width=width)
    first = runner.generate(**call)  # warm-up, excluded from the timed rounds
    if runner.first_call_s is not None:
        record(case.variant, None, None, "first_call", runner.first_call_s, "s")
        runner.first_call_s = None  # later cases of this variant are no longer first calls
    image = np.asarray(first.images[0])
    assert image.shape == (height, width, 3), f"{case}: image of shape {image.shape}"

    rounds = settings.rounds if latency_round is None else 1
    per_step, per_call, callbacks = [], {}, []

    def timed_generation():
        runner.generate(**call)
        per_step.extend(runner.timings.step_seconds())
        callbacks.append(len(runner.timings.step_ends))
        for name, seconds in runner.timings.calls.items():
            per_call.setdefault(name, []).extend(seconds)

    benchmark.extra_info.update(variant=case.variant, steps=case.steps, scheduler=case.scheduler,
                                model=settings.model, resolution=settings.resolution_label)
    benchmark.pedantic(timed_generation, rounds=rounds, iterations=1, warmup_rounds=0)
    # One UNet call per denoising step (schedulers may add steps, as PNDM's warm-up does).
    assert len(per_call["unet"]) == sum(callbacks) >= rounds * case.steps, (per_call["unet"], callbacks)
    # Every sample behind a median, so `bench compare` can tell a shift from noise (a rank test, not 2 numbers).
    benchmark.extra_info["samples_ms"] = {"step_median": [1e3 * s for s in per_step]} | {
        NAMES[name]: [1e3 * s for s in seconds] for name, seconds in per_call.items()}

    pooled = timings_of(case)
    pooled.rounds.extend(benchmark.stats.stats.data if benchmark.stats else [])
    pooled.per_step.extend(per_step)
    for name, seconds in per_call.items():
        pooled.per_call.setdefault(name, []).extend(seconds)
    pooled.rounds_done += rounds
    if pooled.rounds_done == settings.rounds:  # the case's last round: its records, over all its samples
        _record_case(case, pooled, record)


def _record_case(case, pooled: Timings, record) -> None:
    def add(metric, value, unit):
        record(case.variant, case.steps, case.scheduler, metric, value, unit)
    if pooled.rounds:
        add("latency_median", statistics.median(pooled.rounds), "s")
        add("latency_min", min(pooled.rounds), "s")
    if pooled.per_step:
        add("step_median", 1e3 * statistics.median(pooled.per_step), "ms")
    for name, seconds in pooled.per_call.items():
        add(NAMES[name], 1e3 * statistics.median(seconds), "ms")
