"""End-to-end latency per variant x steps x scheduler (pytest-benchmark), per-step and per-component times."""
import numpy as np
import pytest

from bench.runs import summarize

NAMES = {"unet": "unet_call_median", "text_encoder": "text_encoder_median", "vae": "vae_decode_median",
         "vae_decoder": "vae_decode_median"}


@pytest.fixture(scope="session")
def pooled_of():
    """case -> {metric: samples of its rounds so far} (--interleave spreads a case's rounds over the session)."""
    pooled = {}
    return lambda case: pooled.setdefault(case, {})


def test_latency(case, latency_round, settings, runner_for, benchmark, record, pooled_of):
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
    samples_ms = {"step_median": [1e3 * s for s in per_step]} | {
        NAMES[name]: [1e3 * s for s in seconds] for name, seconds in per_call.items()}
    benchmark.extra_info["samples_ms"] = samples_ms

    pooled = pooled_of(case)
    generations = benchmark.stats.stats.data if benchmark.stats else []
    for metric, values in {"latency_median": generations, "latency_min": generations, **samples_ms}.items():
        pooled.setdefault(metric, []).extend(values)
    if latency_round in (None, settings.rounds - 1):  # the case's last round: records over all its samples
        for metric, values in pooled.items():
            if values:
                record(case.variant, case.steps, case.scheduler, metric, **summarize(metric, values))
