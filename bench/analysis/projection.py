"""End to end at another step count, projected from one measured generation's parts.

Step caching makes UNet calls unequal, so a speedup read at a handful of steps says little about 20 or 50. A
generation is: fixed parts (text encoder, VAE decode, post-processing) plus, per UNet call, the call itself (full
or shallow), one scheduler step and the pipeline's glue (guidance arithmetic, input scaling). Projecting from a
run whose step count is a multiple of the caching interval keeps the full/shallow mix of whole cycles; a direct
run at the target step count checks the projection (docs/speed.md).
"""
import statistics

FIXED_PARTS = ("text_encoder", "text_encoder_2", "vae_decode", "image_postprocess")


def projected_seconds(calls: dict, total: float, unet_calls: int, full_calls: int) -> float:
    """Seconds for a generation of `unet_calls` UNet calls, `full_calls` of them full, from one measured
    generation: `calls` (part -> seconds of each call, as `Timings.calls`) and its `total` seconds."""
    if not 0 <= full_calls <= unet_calls or unet_calls < 1:
        raise ValueError(f"{full_calls} full of {unet_calls} UNet calls is not a generation")
    measured = len(calls["scheduler_step"])
    shallow = calls.get("unet_shallow")
    if full_calls < unet_calls and not shallow:
        raise ValueError("a projection with shallow calls needs a measured generation that made some")
    parts = sum(sum(seconds) for seconds in calls.values())
    glue_per_call = (total - parts) / measured
    fixed = sum(sum(calls.get(name, ())) for name in FIXED_PARTS)
    per_call = statistics.median(calls["scheduler_step"]) + glue_per_call
    return (fixed + full_calls * statistics.median(calls["unet"]) +
            (unet_calls - full_calls) * (statistics.median(shallow) if shallow else 0.0) + unet_calls * per_call)
