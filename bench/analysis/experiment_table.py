"""The shapes experiment's table from its run folder: one row per variant, quality beside speed and size.

    bench experiment RUN [--order VARIANT ...]

Columns: one-object adherence (all right, with its 95% interval, then per attribute; prompts lost and gained
against torch-fp32 image by image over every scorable prompt, with McNemar's p, where the run recorded them),
two-object adherence, CLIP score, FID, PSNR and UNet error against torch-fp32, latency with the paired speedup,
footprint, and the verdict of the one quality rule (bench/analysis/verdict.py). The run's summary.md holds the same numbers in the report's general layout; this is the layout docs quote.
"""
import argparse
import sys
from pathlib import Path

from .markdown import print_table, table as markdown_table
from .report import adherence_table, formatted, summary_table
from .thresholds import load_thresholds
from .runs import read_records, read_rounds
from .verdict import verdicts


ATTRIBUTES = ("color", "shape", "size", "position", "count")


def table(run: Path, order: list[str] | None = None) -> str:
    records = read_records(run)
    if records.empty:
        raise ValueError(f"{run} holds no records")
    summary = summary_table(records, read_rounds(run))
    shown = formatted(summary).set_index("variant")
    by_attribute = adherence_table(records)
    single = by_attribute[by_attribute.prompts == "one object"].set_index("variant") if not by_attribute.empty else None
    variants = order or list(shown.index)
    missing = [v for v in variants if v not in shown.index]
    if missing:
        raise ValueError(f"{run} has no records of {', '.join(missing)}; it has {', '.join(shown.index)}")

    def cell(variant, column):
        value = shown.at[variant, column] if column in shown else ""
        return "" if value is None or str(value) == "nan" else value

    def attribute(variant, name):
        if single is None or variant not in single.index or name not in single:
            return ""
        value = single.at[variant, name]
        return "" if value != value else f"{value:.1%}"
    def pair(variant):  # the rate alone: its interval is wide at 100 prompts and the column narrow
        value = summary.set_index("variant").at[variant, "pair_adherence"] if "pair_adherence" in summary else None
        return "" if value is None or value != value else f"{value:.1%}"
    paired = records[records.metric.isin(["adherence_lost", "adherence_gained", "adherence_paired_p"])]
    paired = paired.pivot_table(index="variant", columns="metric", values="value") if not paired.empty else None

    def lost_gained(variant):  # every scorable prompt, against torch-fp32 image by image (the suite's records)
        if paired is None or variant not in paired.index:
            return ""
        row = paired.loc[variant]
        return f"{row['adherence_lost']:.0f} / {row['adherence_gained']:.0f} (p {row['adherence_paired_p']:.2g})"
    judged = verdicts(records, load_thresholds().quality).drop_duplicates("variant").set_index("variant")["verdict"]
    header = (["variant", "one object, all right [95%]"] + [f"{a}" for a in ATTRIBUTES]
              + ["lost / gained", "two objects", "CLIP", "FID", "PSNR (dB)", "UNet error", "latency (s)", "speedup",
                 "footprint (MB)", "quality (rule: verdict.py)"])
    rows = [[f"`{v}`", cell(v, "adherence")] + [attribute(v, a) for a in ATTRIBUTES]
            + [lost_gained(v), pair(v)] + [cell(v, c) for c in ("clip", "fid", "psnr", "unet_error", "latency_s",
                                                                "speedup", "footprint_mb")]
            + [judged.get(v, "")] for v in variants]
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench experiment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--order", nargs="+", default=None,
                        help="variants in this order (default: the summary's); names may hold commas")
    args = parser.parse_args(argv)
    return print_table("experiment", lambda: table(args.run, args.order), (FileNotFoundError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
