"""End-to-end latency per variant x steps x scheduler (pytest-benchmark), per-step and per-component times."""
import statistics

import numpy as np


def test_latency(case, settings, runner_for, benchmark, record):
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

    per_step, per_call, callbacks = [], {}, []

    def timed_generation():
        runner.generate(**call)
        per_step.extend(runner.timings.step_seconds())
        callbacks.append(len(runner.timings.step_ends))
        for name, seconds in runner.timings.calls.items():
            per_call.setdefault(name, []).extend(seconds)

    benchmark.extra_info.update(variant=case.variant, steps=case.steps, scheduler=case.scheduler,
                                model=settings.model, resolution=settings.resolution_label)
    benchmark.pedantic(timed_generation, rounds=settings.rounds, iterations=1, warmup_rounds=0)

    rounds = benchmark.stats.stats.data if benchmark.stats else []
    # One UNet call per denoising step (schedulers may add steps, as PNDM's warm-up does).
    assert len(per_call["unet"]) == sum(callbacks) >= settings.rounds * case.steps, (per_call["unet"], callbacks)
    if rounds:
        record(case.variant, case.steps, case.scheduler, "latency_median", statistics.median(rounds), "s")
        record(case.variant, case.steps, case.scheduler, "latency_min", min(rounds), "s")
    if per_step:
        record(case.variant, case.steps, case.scheduler, "step_median", 1e3 * statistics.median(per_step), "ms")
    names = {"unet": "unet_call_median", "text_encoder": "text_encoder_median", "vae": "vae_decode_median",
             "vae_decoder": "vae_decode_median"}
    # Every sample behind a median, so `bench compare` can tell a shift from noise (a rank test, not 2 numbers).
    samples = {"step_median": [1e3 * s for s in per_step]}
    for name, seconds in per_call.items():
        record(case.variant, case.steps, case.scheduler, names[name], 1e3 * statistics.median(seconds), "ms")
        samples[names[name]] = [1e3 * s for s in seconds]
    benchmark.extra_info["samples_ms"] = samples
