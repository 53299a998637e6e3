"""End-to-end latency per variant x steps x scheduler, in rounds: each round loads the variant afresh, warms it
up and times one generation, recording the whole and every part (text encoder, each UNet call, VAE decode,
each scheduler step, turning the decoded tensor into images). Rounds are the replicates; per-call samples
describe a round and are kept as detail.

Before a case's first round, one whole round runs unrecorded (with --interleave, a warm-up pass over every case
comes first): the first loads in a process carry one-time costs (thread pools growing, files entering the page
cache) that later rounds do not see; at sd15-arch 256 the first load read 10x longer than later ones
(docs/measurements/2026-11-28-compare-real-runs)."""
import statistics
import warnings

import numpy as np

from bench.analysis.projection import projected_seconds
from bench.probes.unet_work import at_peak_ms, compute_precision, counted

# End to end projected to the step counts users run at (bench/analysis/projection.py): checked against a direct
# run when the case's own step count is one of them.
PROJECTED_STEPS = (20, 50)

NAMES = {"unet": "unet_call_median", "text_encoder": "text_encoder_median", "text_encoder_2": "text_encoder_2_median",
         "vae_decode": "vae_decode_median",
         "scheduler_step": "scheduler_step_median", "image_postprocess": "image_postprocess_median",
         "unet_shallow": "unet_shallow_median"}
UNET_GFLOP = {}  # (variant, resolution) -> one full UNet call's GFLOP, counted once per session


class ImplausibleShareWarning(UserWarning):
    pass


def test_latency(case, latency_round, settings, runner_for, benchmark, record_round, machine_peak):
    height, width = settings.resolution
    call = dict(prompt=settings.prompts[0], steps=case.steps, scheduler=case.scheduler, seed=settings.seed,
                height=height, width=width)
    warm_up = latency_round in (None, -1)  # -1: --interleave's warm-up pass; None: this case's own warm-up first
    rounds = list(range(settings.rounds)) if latency_round is None else [] if latency_round == -1 else [latency_round]
    done, pending = [], iter(([-1] if warm_up else []) + rounds)

    def fresh_round():
        """Not timed: a fresh load and compile, then a warm-up generation."""
        runner = runner_for(case.variant, fresh=True)
        with counted(runner.variant, UNET_GFLOP, (case.variant, settings.resolution_label)):
            first = runner.generate(**call)
        image = np.asarray(first.images[0])
        assert image.shape == (height, width, 3), f"{case}: image of shape {image.shape}"
        done.append({"round": next(pending), "runner": runner, "first_call": runner.timings.total})

    def timed_generation():
        done[-1]["runner"].generate(**call)
        done[-1]["timings"] = done[-1]["runner"].timings

    if warm_up:  # one whole round, kept nowhere
        fresh_round()
        timed_generation()
        done.clear()
    if not rounds:
        return
    benchmark.extra_info.update(variant=case.variant, steps=case.steps, scheduler=case.scheduler,
                                model=settings.model, resolution=settings.resolution_label)
    benchmark.pedantic(timed_generation, setup=fresh_round, rounds=len(rounds), iterations=1, warmup_rounds=0)

    per_round, samples_ms = [], {}
    for entry in done:
        runner, timings = entry["runner"], entry["timings"]
        calls = timings.calls
        # One UNet call, full or (step caching) shallow, per denoising step the variant runs (schedulers may add
        # steps, as PNDM's warm-up does; a step-distilled student runs its own few), and every part of the pipeline
        # is seen: what the parts leave over is glue (tokenizing, guidance arithmetic).
        full, shallow = len(calls["unet"]), len(calls.get("unet_shallow", ()))
        steps_run = runner.variant.sampled_as(case.steps, case.scheduler)[0]
        assert full + shallow >= steps_run and full + shallow == len(calls["scheduler_step"])
        assert len(calls["text_encoder"]) >= 1 and len(calls["vae_decode"]) == 1, {k: len(v) for k, v in calls.items()}
        values = {"latency_median": timings.total, "load": runner.load_s, "compile": runner.compile_s,
                  "first_call": entry["first_call"],
                  "pipeline_other": 1e3 * (timings.total - timings.parts_seconds()),
                  # Fair across unequal calls: all UNet time over all steps, and how many ran the whole UNet.
                  "unet_per_step": 1e3 * sum(calls["unet"] + calls.get("unet_shallow", [])) / (full + shallow),
                  "full_unet_calls": full}
        for target in PROJECTED_STEPS:
            values[f"latency_projected_{target}"] = projected_seconds(
                calls, timings.total, *runner.variant.unet_calls(case.scheduler, target), timings.step_ends)
        if timings.step_seconds():  # the time between step ends: none with a single step
            values["step_median"] = 1e3 * statistics.median(timings.step_seconds())
        values |= {NAMES[name]: 1e3 * statistics.median(seconds) for name, seconds in calls.items()}
        # How far from the machine: the full call's arithmetic at the measured peak of what it computes in.
        gflop = UNET_GFLOP[(case.variant, settings.resolution_label)]
        precision = compute_precision(runner.variant)  # reads the IR: once per round
        at_peak = at_peak_ms(gflop, machine_peak, precision)
        values["unet_gflop"] = gflop
        if at_peak is not None:
            values |= {"unet_at_peak": at_peak, "unet_peak_share": at_peak / values["unet_call_median"]}
            if values["unet_peak_share"] > 1:
                # No call outruns the machine: the peak probe read low (another job ran beside it) or the count is
                # wrong. The round is kept, and the share is flagged where a reader of the run will see it.
                warnings.warn(ImplausibleShareWarning(
                    f"{case.variant}: UNet call {values['unet_call_median']:.0f} ms is faster than its arithmetic at "
                    f"the measured {precision} peak ({at_peak:.0f} ms): the peak probe read "
                    f"low, so this run's share of peak is not a measurement"))
        for metric, value in values.items():
            record_round(case, entry["round"], metric, value)
        per_round.append({"round": entry["round"], **values})
        for name, seconds in [("step_median", timings.step_seconds())] + [(NAMES[k], v) for k, v in calls.items()]:
            samples_ms.setdefault(name, []).extend(1e3 * s for s in seconds)
    benchmark.extra_info["rounds"] = per_round
    benchmark.extra_info["samples_ms"] = samples_ms  # per-call detail, never replicates
