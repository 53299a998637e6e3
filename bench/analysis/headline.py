"""The summary's first table, the one a person reads: per variant, speed against torch-fp32 with its interval,
peak memory, footprint and the quality verdict with the sample it rests on. Everything else follows below it."""
import pandas as pd

from ..conventions import REFERENCE
from .markdown import table as markdown_table
from .thresholds import load_thresholds
from .verdict import verdicts

KEYS = ["model", "resolution", "steps", "scheduler"]


def headline_rows(table: pd.DataFrame, verdicts: pd.DataFrame, shown: pd.DataFrame) -> list[list[str]]:
    """`table`: the summary table; `verdicts`: bench.analysis.verdict.verdicts of the run's records; `shown`:
    the summary's cells as text (report.formatted), whose speedups carry their intervals."""
    by_case = {}
    if not verdicts.empty:
        for row in verdicts.itertuples(index=False):
            by_case[(row.model, row.resolution, _steps(row.steps), row.scheduler, row.variant)] = row
    rows = []
    for (_, row), (_, cells) in zip(table.iterrows(), shown.iterrows()):
        key = (row["model"], row["resolution"], _steps(row.get("steps")), row.get("scheduler"), row["variant"])
        found = by_case.get(key)
        quality = ""
        if found is not None and found.verdict:
            adherence = cells.get("adherence", "")  # "97.5% [94%-99%], n=201": the sample and its interval
            quality = found.verdict + (f"; adherence {adherence}" if adherence else "")
        footprint = cells.get("footprint_mb", "")
        if footprint and row["variant"] != REFERENCE and not pd.isna(row.get("footprint_ratio")):
            footprint = f"{footprint} ({row['footprint_ratio']:.2f}x)"
        rows.append([row["variant"], _case(row), cells.get("speedup", ""), cells.get("peak_rss_mib", ""),
                     footprint, quality])
    return rows


def headline(table: pd.DataFrame, records: pd.DataFrame, shown: pd.DataFrame) -> str:
    if table.empty:
        return ""
    # the reference first, then the fastest first
    order = table.assign(_reference=table.variant != REFERENCE,
                         _speed=-table.get("speedup", pd.Series(0.0, index=table.index)).fillna(0.0))
    order = order.sort_values(["model", "resolution", "steps", "scheduler", "_reference", "_speed"]).index
    table, shown = table.loc[order], shown.loc[order]
    rows = headline_rows(table, verdicts(records, load_thresholds().quality), shown)
    if all(row[1] == rows[0][1] for row in rows):  # one case: say it once, above the table
        text = f"## Headline: {rows[0][1]}\n\n"
        rows = [[row[0], *row[2:]] for row in rows]
        header = ["variant", "speedup [interval]", "peak RSS (MiB)", "footprint (MB)", "quality (verdict; one-object adherence [95% interval], n images)"]
    else:
        text = "## Headline\n\n"
        header = ["variant", "case", "speedup [interval]", "peak RSS (MiB)", "footprint (MB)",
                  "quality (verdict; one-object adherence [95% interval], n images)"]
    text += markdown_table(header, rows)
    return text + ("\nspeedup: torch-fp32's time over the variant's in the same round, median over rounds [its "
                   "order-statistic interval: 94% coverage at 5 rounds, 95% from 6]; quality: the rule in docs/measuring.md (\"Whether a variant holds "
                   "quality\"), on the prompt sample named. The full table follows.\n\n")


def _steps(value):
    return None if value is None or pd.isna(value) else int(value)


def _case(row) -> str:
    steps = _steps(row.get("steps"))
    scheduler = row.get("scheduler")
    where = f"{row['model']} {row['resolution']}"
    if steps is None:
        return where
    return f"{where}, {steps} {scheduler} steps"
