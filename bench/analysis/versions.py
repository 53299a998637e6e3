"""`bench versions RUN RUN ...`: one table of the same suites run under several library versions.

Runs are labelled by their OpenVINO version (from the environment fingerprint); the first run given is the
reference every other column's change is relative to.
"""
import pandas as pd

from .markdown import table as markdown_table
from .runs import KEY, load_run

SHOWN = ["latency_median", "step_median", "unet_call_median", "peak_rss", "footprint_unet", "psnr", "unet_error",
         "fid"]


def run_label(run) -> str:
    versions = run.environment.get("versions") or {}
    ov, nncf = versions.get("openvino"), versions.get("nncf")
    return f"OpenVINO {ov} / NNCF {nncf}" if ov else run.source.name


def versions_table(paths, metrics=SHOWN) -> pd.DataFrame:
    """Rows: (variant, steps, scheduler, metric, unit); one column per run, in the order given."""
    runs = [load_run(p) for p in paths]
    labels = [run_label(r) for r in runs]
    if len(set(labels)) != len(labels):
        labels = [f"{label} ({run.source})" for label, run in zip(labels, runs)]
    frames = []
    for label, run in zip(labels, runs):
        records = run.records[run.records["metric"].isin(metrics)].copy()
        records["run"] = label
        frames.append(records)
    merged = pd.concat(frames)
    merged["steps"] = merged["steps"].map(lambda s: "" if s is None or pd.isna(s) else int(s))
    merged["scheduler"] = merged["scheduler"].fillna("")
    index = [k for k in KEY if k not in ("model", "resolution")] + ["unit"]
    table = merged.pivot_table(index=index, columns="run", values="value", aggfunc="last")
    return table[[label for label in labels if label in table.columns]]


def versions_markdown(table: pd.DataFrame) -> str:
    columns = list(table.columns)
    lines = []
    for (variant, steps, scheduler, metric, unit), values in table.iterrows():
        first = values.iloc[0]
        cells = []
        for i, value in enumerate(values):
            if pd.isna(value):
                cells.append("")
            elif i == 0 or pd.isna(first) or first == 0:
                cells.append(f"{value:.4g} {unit}")
            else:
                cells.append(f"{value:.4g} {unit} ({(value - first) / abs(first):+.0%})")
        lines.append([variant, steps, scheduler, metric, *cells])
    return markdown_table(["variant", "steps", "scheduler", "metric", *columns], lines)
