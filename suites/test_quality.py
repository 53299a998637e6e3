"""Quality per variant x steps x scheduler: fidelity to torch-fp32 from the same latents, FID/KID, CLIP score,
and on a shapes model its exact prompt adherence."""
import warnings

import numpy as np
import pytest
import torch

import sdopt
from bench.conventions import REFERENCE
from bench.probes.adherence import paired_change, summarize
from bench.probes.quality import (
    SmallSampleWarning,
    clip_score,
    distribution_distance,
    fidelity,
    load_reference_folder,
    prediction_error,
    to_tensor,
)
from sdopt.recipes import RUNTIME_LAYERS, without_option
from sdopt.shapes.world import parse, truth_image


def _images(generated):
    return to_tensor([image for _, _, image, _ in generated]), torch.cat([lat for *_, lat in generated])


def test_fidelity_and_distribution(case, settings, generations, record):
    reference, reference_latents = _images(generations(REFERENCE, case.steps, case.scheduler))
    images, latents = _images(generations(case.variant, case.steps, case.scheduler))
    paired = fidelity(reference, images, reference_latents, latents)
    for metric in ("psnr", "ssim", "latent_mad"):
        record(case.variant, case.steps, case.scheduler, metric, paired[metric])
    if case.variant == REFERENCE:
        assert paired["psnr"] == 100.0 and paired["latent_mad"] == 0.0  # deterministic: same latents, same image

    if settings.fid_reference:
        real = load_reference_folder(settings.fid_reference, settings.resolution)
    elif settings.world:  # what the world itself draws for the same prompts and seeds (those it can draw)
        generated = generations(case.variant, case.steps, case.scheduler)
        drawable = [index for index, (prompt, *_) in enumerate(generated) if parse(prompt) is not None]
        real = to_tensor([truth_image(generated[i][0], generated[i][1]) for i in drawable])
        images = images[drawable]
    else:
        real = reference
    distance = distribution_distance(real, images)
    record(case.variant, case.steps, case.scheduler, "fid", distance.fid)
    record(case.variant, case.steps, case.scheduler, "kid", distance.kid)
    if distance.kid_std is not None:
        record(case.variant, case.steps, case.scheduler, "kid_std", distance.kid_std)
    record(case.variant, case.steps, case.scheduler, "fid_samples", distance.samples)
    if distance.warning:
        warnings.warn(SmallSampleWarning(distance.warning))
    assert distance.fid >= -1e-3 and torch.isfinite(torch.tensor(distance.fid))


def test_runtime_fidelity(case, generations, record):
    """A variant on a runtime that opens another runtime's artifact (OpenVINO GenAI over the OpenVINO IRs)
    against the same artifact on the Python pipeline, from the same latents: what the runtime alone changes."""
    recipe = sdopt.get_recipe(case.variant)
    if recipe.runtime not in RUNTIME_LAYERS:
        pytest.skip(f"{case.variant} runs on the runtime its artifact is built for")
    counterpart = without_option(recipe, "runtime").name
    theirs, their_latents = _images(generations(counterpart, case.steps, case.scheduler))
    ours, our_latents = _images(generations(case.variant, case.steps, case.scheduler))
    paired = fidelity(theirs, ours, their_latents, our_latents)
    for metric in ("psnr", "ssim", "latent_mad"):
        record(case.variant, case.steps, case.scheduler, f"runtime_{metric}", paired[metric])
    assert 0 < paired["psnr"] <= 100 and paired["latent_mad"] >= 0


def test_unet_prediction_error(case, generations, runner_for, record):
    """The variant's UNet on exactly the inputs torch-fp32's UNet saw: its error without compounding."""
    if sdopt.get_recipe(case.variant).lcm_steps:
        pytest.skip("a step-distilled student predicts the end of the teacher's guided ODE from one input with the "
                    "guidance embedded, not the teacher's noise: there is no UNet error against torch-fp32 to take")
    calls = generations.reference_unet_calls(case.steps, case.scheduler)
    variant = runner_for(case.variant).variant
    outputs = [variant.predict_noise(c) for c in calls]
    error = prediction_error([c["output"] for c in calls], outputs)
    record(case.variant, case.steps, case.scheduler, "unet_error", error)
    if case.variant == REFERENCE:
        assert error < 1e-6
    assert 0 <= error < 10


def test_clip_score(case, settings, generations, record):
    if not settings.clip_model:
        pytest.skip("CLIP score needs a CLIP model, and none ships offline: pass --clip-model with a hub id "
                    "(e.g. openai/clip-vit-base-patch32, needs network once) or a local CLIPModel folder")
    generated = generations(case.variant, case.steps, case.scheduler)
    images, _ = _images(generated)
    score = clip_score(images, [prompt for prompt, *_ in generated], settings.clip_model)
    record(case.variant, case.steps, case.scheduler, "clip_score", score)
    assert 0 <= score <= 100


def test_prompt_adherence(case, settings, generations, record):
    """Each image scored exactly against its caption (objects, colours, shapes, sizes, positions, relations):
    the share right per attribute and all at once, with a 95% interval from the number of images."""
    if not settings.world:
        pytest.skip("prompt adherence is scored on a shapes model's world: run with --model shapes")
    generated = generations(case.variant, case.steps, case.scheduler)
    by_kind = {"single": [], "pair": []}
    not_scorable = 0
    for prompt, _, image, _ in generated:
        parsed = parse(prompt)
        if parsed is None:
            not_scorable += 1
        else:
            by_kind[parsed.kind].append((parsed, np.asarray(image)))
    record(case.variant, case.steps, case.scheduler, "adherence_not_scorable", not_scorable)
    if case.variant != REFERENCE:  # the same prompts and seeds as the reference's: a paired comparison
        reference = generations(REFERENCE, case.steps, case.scheduler)
        change = paired_change([prompt for prompt, *_ in generated], [np.asarray(image) for _, _, image, _ in reference],
                               [np.asarray(image) for _, _, image, _ in generated])
        record(case.variant, case.steps, case.scheduler, "adherence_lost", change["lost"])
        record(case.variant, case.steps, case.scheduler, "adherence_gained", change["gained"])
        record(case.variant, case.steps, case.scheduler, "adherence_paired_p", change["p"])
    for kind, scored in by_kind.items():
        if not scored:
            continue
        summary = summarize(*zip(*scored))
        prefix = "adherence" if kind == "single" else "pair_adherence"
        for attribute, found in summary.items():
            if not isinstance(found, dict):
                continue
            name = prefix if attribute == "all" else f"{prefix}_{attribute}"
            record(case.variant, case.steps, case.scheduler, name, found["rate"])
            if attribute == "all":
                record(case.variant, case.steps, case.scheduler, f"{name}_low", found["low"])
                record(case.variant, case.steps, case.scheduler, f"{name}_high", found["high"])
                record(case.variant, case.steps, case.scheduler, f"{name}_n", found["images"])
            assert 0 <= found["low"] <= found["rate"] <= found["high"] <= 1
