"""The two runtimes side by side: each OpenVINO variant of a run beside its GenAI copy (`NAME[runtime=genai]`).

    bench runtimes SPEED_RUN [QUALITY_RUN]

Per variant and runtime: end to end (median over rounds), GenAI's speed over the Python pipeline's on the same IRs
(the Python round's time over the GenAI round's, paired by round, with the interval of their median), the UNet
call, text encoder and VAE decode medians, load and compile, peak RSS and the import floor under it; from the
quality run (or the speed run when none is given): PSNR of GenAI's images against the Python pipeline's on the
same IRs, and, on shapes, adherence. Runs made with `--runtimes openvino,genai --interleave` pair best.
"""
import argparse
import sys
from pathlib import Path

from sdopt.recipes import layered_counterpart

from .markdown import print_table
from .markdown import table as markdown_table
from .runs import read_records, read_rounds
from .stats import median_interval


def counterpart(variant: str) -> str | None:
    """The variant a layered runtime's copy (GenAI's) was made from, named as the suites name it (None for any
    other variant)."""
    return layered_counterpart(variant)


def paired_ratio(rounds, python: str, genai: str):
    """Median over rounds of the Python round's end to end over the GenAI round's, with its interval."""
    latency = rounds[rounds.metric == "latency_median"].pivot_table(index="round", columns="variant", values="value")
    if not {python, genai} <= set(latency.columns):  # a run without latency rounds (a quality run)
        return None
    both = latency[[python, genai]].dropna()
    if both.empty:
        return None
    return median_interval(both[python] / both[genai])


def table(speed_run: Path, quality_run: Path | None = None) -> str:
    records, rounds = read_records(speed_run), read_rounds(speed_run)
    if records.empty:
        raise ValueError(f"{speed_run} holds no records")
    quality = read_records(quality_run) if quality_run else records
    pairs = [(counterpart(v), v) for v in sorted(records.variant.unique()) if counterpart(v)]
    pairs = [(python, genai) for python, genai in pairs if python in set(records.variant)]
    if not pairs:
        raise ValueError(f"{speed_run} has no variant run on both runtimes (run the suites with --runtimes "
                         f"openvino,genai)")

    def value(frame, variant, metric, fmt, scale=1.0):
        found = frame[(frame.variant == variant) & (frame.metric == metric)].value
        return fmt.format(found.iloc[0] * scale) if len(found) else ""

    header = ["variant", "runtime", "end to end (s)", "GenAI speedup [interval]", "UNet call (ms)",
              "text encoder (ms)", "VAE decode (ms)", "load (s)", "compile (s)", "peak RSS (MiB)",
              "imports (MiB)", "PSNR GenAI vs Python (dB)", "adherence"]
    rows = []
    for python, genai in pairs:
        ratio = paired_ratio(rounds, python, genai)
        for variant, runtime in ((python, "Python (optimum-intel)"), (genai, "GenAI")):
            is_genai = variant == genai
            rows.append([f"`{python}`", runtime, value(records, variant, "latency_median", "{:.2f}"),
                         ratio.describe("{:.2f}", "x") if is_genai and ratio else "",
                         value(records, variant, "unet_call_median", "{:.0f}"),
                         value(records, variant, "text_encoder_median", "{:.0f}"),
                         value(records, variant, "vae_decode_median", "{:.0f}"),
                         value(records, variant, "load", "{:.2f}"), value(records, variant, "compile", "{:.2f}"),
                         value(records, variant, "peak_rss", "{:.0f}"), value(records, variant, "rss_imports", "{:.0f}"),
                         value(quality, variant, "runtime_psnr", "{:.1f}") if is_genai else "",
                         value(quality, variant, "adherence", "{:.1%}")])
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench runtimes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("speed_run", type=Path)
    parser.add_argument("quality_run", type=Path, nargs="?", default=None)
    args = parser.parse_args(argv)
    return print_table("runtimes", lambda: table(args.speed_run, args.quality_run))


if __name__ == "__main__":
    sys.exit(main())
