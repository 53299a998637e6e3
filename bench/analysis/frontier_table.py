"""The frontier table: speed and memory from runs at full size, quality from a run on the shapes model.

    bench frontier SPEED_RUN QUALITY_RUN [QUALITY_RUN ...] [--repeat SPEED_RUN] [--order VARIANT ...]

Random-weight models (sd15-arch) carry speed, size and memory; only the trained shapes model carries quality, so
the frontier joins a run of each by variant name. Several quality runs may be given (same model, steps and
seeds): a variant's quality comes from the first run that scored it, and lost / gained are against that run's
torch-fp32. Columns: end to end at 20 steps, projected from the speed run's rounds when it ran fewer steps, with
torch-fp32's over the variant's paired by round and the order-statistic interval of that median (its coverage in
the header); with --repeat, the same speedup from a second run started apart from the first (of the same
variants or some of them) and the range of the two runs' medians; 50 steps likewise; peak RSS and footprint at full size; adherence on shapes (one object,
all attributes right, with its interval), prompts lost and gained against torch-fp32, FID; and the verdict of
the one quality rule (bench/analysis/verdict.py, numbers in thresholds.toml [quality]).
"""
import argparse
import sys
from pathlib import Path

import pandas as pd

from bench.analysis.figures import frontier_plot

from .markdown import print_table
from .markdown import table as markdown_table
from .report import formatted, summary_table
from .runs import read_records, read_rounds
from .thresholds import load_thresholds
from .verdict import EDGE_HOLDS, HOLDS, REFERENCE_VERDICT, verdicts


def quality_records(runs: list[Path]):
    """The quality runs' records, each variant taken from the first run that has it."""
    frames, seen = [], set()
    for run in runs:
        records = read_records(run)
        if records.empty:
            raise ValueError(f"{run} holds no records")
        frames.append(records[~records.variant.isin(seen)])
        seen |= set(records.variant)
    return pd.concat(frames, ignore_index=True)


def speed_summary(run: Path):
    """The run's summary rows by variant, and whether its end-to-end columns are projected (fewer steps ran)."""
    records = read_records(run)
    if records.empty:
        raise ValueError(f"{run} holds no records")
    speed = summary_table(records, read_rounds(run))
    if "e2e20_s" not in speed:
        raise ValueError(f"{run} has no end-to-end projections (a latency run of this version records them)")
    steps = set(speed["steps"].dropna().astype(int))
    return speed.set_index("variant"), steps


def _coverage(speed, name: str) -> str:
    found = sorted({f"{c:.0%}" for c in speed.get(f"{name}_coverage", []) if c == c})
    return f"{'/'.join(found)} interval of the median" if found else "no interval"


def table(speed_run: Path, quality_runs, order: list[str] | None = None, plot: Path | None = None,
          repeat: Path | None = None) -> str:
    quality_runs = [quality_runs] if isinstance(quality_runs, Path) else list(quality_runs)
    speed, steps = speed_summary(speed_run)
    second = speed_summary(repeat)[0] if repeat is not None else None
    scored = quality_records(quality_runs)
    quality = summary_table(scored).set_index("variant")
    shown_quality = formatted(quality.reset_index()).set_index("variant")
    shown = formatted(speed.reset_index()).set_index("variant")
    shown_second = formatted(second.reset_index()).set_index("variant") if second is not None else None
    judged = verdicts(scored, load_thresholds().quality).drop_duplicates("variant").set_index("variant")
    variants = order or list(speed.index)
    missing = [v for v in variants if v not in speed.index]
    if missing:
        raise ValueError(f"{speed_run} has no records of {', '.join(missing)}; it has {', '.join(speed.index)}")
    paired = scored[scored.metric.isin(["adherence_lost", "adherence_gained"])]
    paired = paired.pivot_table(index="variant", columns="metric", values="value") if not paired.empty else None

    def cell(frame, variant, column):
        value = frame.at[variant, column] if variant in frame.index and column in frame else ""
        return "" if value is None or str(value) == "nan" else str(value)

    def lost_gained(variant):
        if paired is None or variant not in paired.index:
            return ""
        return f"{paired.at[variant, 'adherence_lost']:.0f} / {paired.at[variant, 'adherence_gained']:.0f}"

    def at_peak(variant):
        """The call's arithmetic at the machine's peak for its precision, and the share of it the call reaches."""
        share, ms = cell(shown, variant, "unet_peak_share"), cell(shown, variant, "unet_at_peak_ms")
        if share and speed.at[variant, "unet_peak_share"] > 1:
            # no call outruns the machine: the session's peak probe read low (another job ran beside it)
            return f"{ms} ms ({share}: above the peak, the probe read low; not a measurement)"
        return f"{ms} ms ({share})" if share else ""

    def verdict(variant):
        return judged.at[variant, "verdict"] if variant in judged.index else ""

    def both_runs(variant, name):
        values = [frame.at[variant, name] for frame in (speed, second) if frame is not None and variant in frame.index]
        return f"{min(values):.2f}x-{max(values):.2f}x" if len(values) == 2 else ""

    projected = ", projected" if steps != {20} else ""
    projected_50 = ", projected" if steps != {50} else ""
    if plot is not None:
        def net_lost(v):
            if verdict(v) == REFERENCE_VERDICT:
                return 0  # the reference against itself
            return (paired.at[v, "adherence_lost"] - paired.at[v, "adherence_gained"]
                    if paired is not None and v in paired.index else None)
        points = pd.DataFrame({"variant": variants, "e2e20_s": [speed.at[v, "e2e20_s"] for v in variants],
                               "net_lost": [net_lost(v) for v in variants],
                               "fid": [quality.at[v, "fid"] if v in quality.index and "fid" in quality else None
                                       for v in variants],
                               "holds": [verdict(v) in (HOLDS, EDGE_HOLDS, REFERENCE_VERDICT) for v in variants]})
        frontier_plot(points, "e2e20_s",
                      [("net_lost", "prompts lost less gained against torch-fp32 (fewer is better)"),
                       ("fid", "FID on shapes (lower is better)")],
                      plot, f"end to end at 20 steps{' (projected)' if projected else ''}: {speed_run.name}; "
                            f"quality on shapes; hollow: quality does not hold")
    header = ["variant", f"20 steps (s{projected})",
              f"speedup at 20{projected} [{_coverage(speed, 'speedup_20')}]"]
    if second is not None:
        header += [f"second run [{_coverage(second, 'speedup_20')}]", "both runs"]
    header += [f"50 steps (s{projected_50})", f"speedup at 50{projected_50}", "UNet call at machine peak",
               "peak RSS (MiB)", "footprint (MB)",
               "adherence on shapes", "lost / gained", "FID", "quality (rule: verdict.py)"]
    rows = []
    for v in variants:
        row = [f"`{v}`", cell(shown, v, "e2e20_s"), cell(shown, v, "speedup_20")]
        if second is not None:
            row += [cell(shown_second, v, "speedup_20") if v in second.index else "not repeated",
                    both_runs(v, "speedup_20")]
        row += [cell(shown, v, "e2e50_s"), cell(shown, v, "speedup_50").split(" ")[0], at_peak(v),
                cell(shown, v, "peak_rss_mib"),
                cell(shown, v, "footprint_mb"), cell(shown_quality, v, "adherence"), lost_gained(v),
                cell(shown_quality, v, "fid"), verdict(v)]
        rows.append(row)
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench frontier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("speed_run", type=Path)
    parser.add_argument("quality_runs", type=Path, nargs="+")
    parser.add_argument("--repeat", type=Path, default=None,
                        help="a second speed run of the same variants, started apart from the first: its speedups "
                             "and the range of both runs' medians")
    parser.add_argument("--order", nargs="+", default=None, help="variants in this order (default: the speed run's)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="also draw end to end against adherence, with the Pareto front, into this PNG")
    args = parser.parse_args(argv)
    return print_table("frontier",
                       lambda: table(args.speed_run, args.quality_runs, args.order, args.plot, args.repeat))


if __name__ == "__main__":
    sys.exit(main())
