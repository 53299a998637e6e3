"""What every metric is, one row each: the name records carry (or a glob over names), its unit, which way is
better, the summary column it fills with its label and format, and its default regression limit.

The suites take units from here, `bench report` its columns, `bench compare` its directions and default limits
(bench/analysis/thresholds.py), the table commands their formats. Adding a metric is one row here plus the probe
that measures it; a metric with no row is refused where it is recorded.
"""
import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """A default regression limit: a metric regresses when it moves the worse way by more than every limit
    given (see thresholds.toml's header)."""
    relative: float | None = None
    absolute: float | None = None
    outside_interval: bool = False  # also outside the baseline's own 95% interval (rates with a known error)


@dataclass(frozen=True)
class MetricSpec:
    name: str  # a record's metric, or a glob over them ("footprint_*")
    unit: str
    better: str | None = None  # "lower", "higher", or None: a count or a detail with no better way
    column: str = ""  # the summary's column ("" : not in the summary)
    label: str = ""  # the column's header
    format: str = "{:g}"
    limit: Limit | None = None  # the default regression limit; None: shown by compare, never judged
    recorded: bool = True  # False: a column computed from records (speedups, ratios), not a record
    per_variant: bool = False  # summarized once per variant (the largest over its cases), not per case


LOWER, HIGHER = "lower", "higher"
TIMING = Limit(relative=0.10)
# In the summary's column order, then the rest. A name's first matching row is its row.
METRICS = (
    MetricSpec("latency_median", "s", LOWER, "latency_s", "latency (s)", "{:.3f}", TIMING),
    MetricSpec("step_median", "ms", LOWER, "step_ms", "per step (ms)", "{:.1f}", TIMING),
    MetricSpec("unet_call_median", "ms", LOWER, "unet_ms", "UNet call (ms)", "{:.1f}", TIMING),
    MetricSpec("speedup", "x", HIGHER, "speedup", "speedup", "{:.2f}x", recorded=False),
    MetricSpec("latency_projected_20", "s", LOWER, "e2e20_s", "20 steps (s, projected)", "{:.2f}"),
    MetricSpec("latency_projected_50", "s", LOWER, "e2e50_s", "50 steps (s, projected)", "{:.2f}"),
    MetricSpec("speedup_20", "x", HIGHER, "speedup_20", "speedup at 20 (projected)", "{:.2f}x", recorded=False),
    MetricSpec("speedup_50", "x", HIGHER, "speedup_50", "speedup at 50 (projected)", "{:.2f}x", recorded=False),
    MetricSpec("unet_speedup", "x", HIGHER, "unet_speedup", "UNet speedup", "{:.2f}x", recorded=False),
    # the call's arithmetic at the machine's measured GEMM peak for the precision it computes in (bench/probes)
    MetricSpec("unet_at_peak", "ms", None, "unet_at_peak_ms", "UNet call at machine peak (ms)", "{:.1f}"),
    MetricSpec("unet_peak_share", "ratio", HIGHER, "unet_peak_share", "share of peak", "{:.0%}"),
    MetricSpec("peak_rss", "MiB", LOWER, "peak_rss_mib", "peak RSS (MiB)", "{:.0f}",
               Limit(relative=0.10, absolute=50.0), per_variant=True),  # MiB: small runs move by allocator noise
    MetricSpec("rss_private_end", "MiB", LOWER, "private_end_mib", "private at end (MiB)", "{:.0f}",
               per_variant=True),
    MetricSpec("rss_private_peak", "MiB", LOWER, "private_peak_mib", "private peak (MiB)", "{:.0f}",
               per_variant=True),
    MetricSpec("rss_file_peak", "MiB", LOWER, "file_peak_mib", "file-backed peak (MiB)", "{:.0f}",
               per_variant=True),
    # deterministic: any growth beyond rounding is a change in what was built
    MetricSpec("footprint_total", "MB", LOWER, "footprint_mb", "footprint (MB)", "{:.1f}", Limit(relative=0.01),
               per_variant=True),
    MetricSpec("footprint_ratio", "x", LOWER, "footprint_ratio", "footprint ratio", "{:.2f}x", recorded=False),
    # both limits: 1 dB at 35 dB matters, 1.5 dB at 87 dB (near-identical images) does not
    MetricSpec("psnr", "dB", HIGHER, "psnr", "PSNR (dB)", "{:.1f}", Limit(relative=0.03, absolute=1.0)),
    MetricSpec("runtime_psnr", "dB", HIGHER, "runtime_psnr", "PSNR vs same IRs in Python (dB)", "{:.1f}"),
    MetricSpec("ssim", "ratio", HIGHER, "ssim", "SSIM", "{:.3f}", Limit(absolute=0.02)),
    MetricSpec("latent_mad", "abs", LOWER, "latent_mad", "latent MAD", "{:.4f}", Limit(absolute=0.02)),
    # one percentage point of relative L2 error
    MetricSpec("unet_error", "ratio", LOWER, "unet_error", "UNet error", "{:.2%}", Limit(absolute=0.01)),
    # FID on a handful of images is itself noisy
    MetricSpec("fid", "fid", LOWER, "fid", "FID", "{:.2f}", Limit(relative=0.25, absolute=1.0)),
    MetricSpec("kid", "kid", LOWER, "kid", "KID", "{:.4f}", Limit(absolute=0.01)),
    MetricSpec("fid_samples", "images", None, "fid_samples", "FID n", "{:.0f}"),
    MetricSpec("clip_score", "score", HIGHER, "clip", "CLIP", "{:.2f}", Limit(absolute=1.0)),
    # all attributes right, one-object prompts: the shapes model's headline; 2 points, and outside the baseline's
    # own 95% interval from its image count
    MetricSpec("adherence", "ratio", HIGHER, "adherence", "adherence", "{:.1%}",
               Limit(absolute=0.02, outside_interval=True)),
    MetricSpec("pair_adherence", "ratio", HIGHER, "pair_adherence", "two-object adherence", "{:.1%}",
               Limit(absolute=0.02, outside_interval=True)),
    # --- not summary columns -------------------------------------------------------------------------------
    MetricSpec("latency_min", "s", LOWER),  # the fastest round has no replicates of its own: shown, not judged
    MetricSpec("load", "s", LOWER),
    MetricSpec("compile", "s", LOWER),
    MetricSpec("first_call", "s", LOWER),
    MetricSpec("full_unet_calls", "calls"),
    MetricSpec("unet_gflop", "GFLOP"),  # one full UNet call's multiply-adds x 2, counted from its graph
    MetricSpec("pipeline_other", "ms", LOWER),  # what the timed parts leave over: tokenizing, guidance arithmetic
    MetricSpec("unet_per_step", "ms", LOWER),
    # text encoder, VAE decode, scheduler step, image post-processing, step caching's shallow UNet
    MetricSpec("*_median", "ms", LOWER, limit=Limit(relative=0.15)),
    MetricSpec("footprint_*", "MB", LOWER, limit=Limit(relative=0.01)),
    MetricSpec("peak_rss_sampled", "MiB", LOWER),
    MetricSpec("rss_*", "MiB", LOWER),
    MetricSpec("profile_unet_total", "ms", LOWER),
    MetricSpec("profile_int8_share", "ratio"),
    MetricSpec("runtime_ssim", "ratio", HIGHER),
    MetricSpec("runtime_latent_mad", "abs", LOWER),
    MetricSpec("kid_std", "kid"),
    MetricSpec("adherence_lost", "images", LOWER),
    MetricSpec("adherence_gained", "images", HIGHER),
    MetricSpec("adherence_paired_p", "p"),
    MetricSpec("*adherence_not_scorable", "images"),
    MetricSpec("*adherence_n", "images"),
    MetricSpec("*adherence_*", "ratio"),  # per attribute, and the interval's bounds
)


def spec_of(metric: str) -> MetricSpec:
    """The row of a recorded metric; a metric no row names is refused, naming where to add it."""
    found = next((spec for spec in METRICS if fnmatch.fnmatchcase(metric, spec.name)), None)
    if found is None:
        raise KeyError(f"metric {metric!r} has no row in bench/metrics.py: add one (unit, direction, format)")
    return found


def unit_of(metric: str) -> str:
    return spec_of(metric).unit


def columns() -> dict:
    """Summary column -> its row, in the summary's order."""
    return {spec.column: spec for spec in METRICS if spec.column}


def recorded_columns(per_variant: bool = False) -> dict:
    """Recorded metric -> the summary column it fills: those summarized per case, or (per_variant) per variant."""
    return {spec.name: spec.column for spec in METRICS
            if spec.column and spec.recorded and spec.per_variant == per_variant}
