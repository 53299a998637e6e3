"""End to end at another step count, projected from one measured generation's parts.

Step caching makes UNet calls unequal, so a speedup read at a handful of steps says little about 20 or 50. A
generation is: fixed parts (text encoder, VAE decode, post-processing) plus, per UNet call, the call itself (full
or shallow), one scheduler step and the pipeline's glue (guidance arithmetic, input scaling), read between step
ends; what is left over is the generation's own setup, counted once. Projecting from a run whose step count is
a multiple of the caching interval keeps the full/shallow mix of whole cycles; a direct run at the target step
count checks the projection (docs/speed.md).
"""
import statistics

FIXED_PARTS = ("text_encoder", "text_encoder_2", "vae_decode", "image_postprocess")


def projected_seconds(calls: dict, total: float, unet_calls: int, full_calls: int, step_ends=()) -> float:
    """Seconds for a generation of `unet_calls` UNet calls, `full_calls` of them full, from one measured
    generation: `calls` (part -> seconds of each call, as `Timings.calls`), its `total` seconds and the times its
    steps ended (`Timings.step_ends`)."""
    if not 1 <= full_calls <= unet_calls:  # the first call is always a full one
        raise ValueError(f"{full_calls} full of {unet_calls} UNet calls is not a generation")
    measured = len(calls["scheduler_step"])
    shallow = calls.get("unet_shallow")
    if full_calls < unet_calls and not shallow:
        raise ValueError("a projection with shallow calls needs a measured generation that made some")
    parts = sum(sum(seconds) for seconds in calls.values())
    glue = glue_per_call(calls, step_ends)
    # What no part and no step accounts for is the generation's own setup (latents, timesteps, the loop's
    # state): once per generation. Spread over the calls instead, a few-step run would project it many times.
    glue = (total - parts) / measured if glue is None else glue
    per_generation = total - parts - measured * glue
    fixed = sum(sum(calls.get(name, ())) for name in FIXED_PARTS)
    per_call = statistics.median(calls["scheduler_step"]) + glue
    # A generation's first UNet call is slower than its later ones (up to twice on tiny, where a call takes
    # milliseconds): it is taken once, as measured, and the later full calls at the median of the others.
    first, warm = calls["unet"][0], calls["unet"][1:] or calls["unet"]
    return (fixed + per_generation + first + (full_calls - 1) * statistics.median(warm) +
            (unet_calls - full_calls) * (statistics.median(shallow) if shallow else 0.0) + unet_calls * per_call)


def glue_per_call(calls: dict, step_ends) -> float | None:
    """The time a step takes beyond its UNet call and scheduler step (guidance arithmetic, input scaling), read
    between the ends of the second and last steps, where nothing but steps runs (None: fewer than two steps, or
    step ends that do not match the calls). The first step's call, always a full one, is left out with it."""
    steps = len(calls["scheduler_step"])
    if steps < 2 or len(step_ends) != steps:
        return None
    unet = calls["unet"][1:] + calls.get("unet_shallow", [])
    inside = sum(unet) + sum(calls["scheduler_step"][1:])
    return max(0.0, (step_ends[-1] - step_ends[0] - inside) / (steps - 1))
