"""`bench compare BASELINE CURRENT`: per metric, baseline, current, change and a verdict.

Timings are judged on rounds, their independent replicates (a round = a fresh load, a warm-up, a timed
generation): a change beyond the metric's limit is a regression only if a trimmed t-test on the rounds' logs also
finds it, after a correction for the many metrics tested at once (Benjamini-Hochberg by default). With fewer
than `min_rounds` a side there is no verdict. When both runs hold the control variant (torch-fp32 by default),
the control's own change is reported as the machine's drift, and every other variant is judged on its time
relative to the control in the same round, so that a machine slower today moves nothing; the absolute change
is shown beside it. Single numbers (footprint, quality, peak memory) are judged by their limit alone.

Verdicts: regressed, improved, within noise (beyond the limit, but not told apart from the rounds' spread),
not enough replicates, drift (the control moved), ok, info (no limit configured), new, missing.
"""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..conventions import REFERENCE
from .markdown import table as markdown_table
from .runs import KEY, Run, load_run
from .stats import adjust, shift_p_value
from .thresholds import Limit, Thresholds, load_thresholds

CONTROL = REFERENCE  # the drift control: a variant no change under test touches
FAILING = ("regressed",)
ORDER = ["regressed", "missing", "not enough replicates", "within noise", "drift", "improved", "new", "ok", "info"]
MACHINE_FIELDS = ("cpu_model", "isa", "recipe_isa_class", "logical_cores", "threads_used", "ov_cpu_capabilities")
SOFTWARE_FIELDS = ("python", "platform")
# The GEMM probe judges whether two runs' machines ran alike: start against start, end against end. The
# convolution probe is recorded but not judged: within one run it read 129-144 GFLOP/s at the start and 164-199
# at the end (docs/measurements/2026-11-28-compare-real-runs), moving with the process's history.
SPEED_PROBE = "gemm_gflops"
SPEED_TOLERANCE = 0.10  # GEMM rates further apart than this make two runs' timings incomparable


@dataclass
class Comparison:
    baseline: str
    current: str
    table: pd.DataFrame
    machine_differences: list = field(default_factory=list)
    software_differences: list = field(default_factory=list)
    control: str | None = None  # the control variant both runs hold, if any

    @property
    def regressed(self) -> bool:
        return bool(self.table["verdict"].isin(FAILING).any())

    def counts(self) -> dict:
        counts = self.table["verdict"].value_counts()
        return {verdict: int(counts[verdict]) for verdict in ORDER if verdict in counts}

    def markdown(self) -> str:
        return render_markdown(self)


def compare_runs(baseline, current, thresholds: Thresholds | None = None, control: str | None = CONTROL
                 ) -> Comparison:
    """Compare two runs (paths or loaded `Run`s) metric by metric; `control=None` judges every timing absolutely."""
    base = baseline if isinstance(baseline, Run) else load_run(baseline)
    cur = current if isinstance(current, Run) else load_run(current)
    thresholds = thresholds or load_thresholds()
    held = control if control and all((r.records.variant == control).any() for r in (base, cur)) else None
    merged = pd.merge(_keyed(base.records), _keyed(cur.records), on="case_key", how="outer",
                      suffixes=("_baseline", "_current"), indicator="presence")
    rows = [_measure(row, base, cur, thresholds, held) for row in merged.itertuples(index=False)]
    for row, p in zip(rows, adjust([r.pop("_p") for r in rows], thresholds.correction)):
        row["p_value"] = p
        row["verdict"] = _verdict(row, thresholds, held)
    table = pd.DataFrame(rows).drop(columns=["_worse", "_better", "_tested"])
    table["_order"] = table["verdict"].map(ORDER.index)
    table = table.sort_values(["_order", "variant", "metric"], kind="stable").drop(columns="_order")
    machine, software = environment_differences(base.environment, cur.environment)
    return Comparison(base.label, cur.label, table.reset_index(drop=True), machine, software, held)


def _keyed(records: pd.DataFrame) -> pd.DataFrame:
    records = records.copy()
    records["case_key"] = [tuple(None if pd.isna(v) else v for v in row)
                           for row in records[KEY].itertuples(index=False)]
    return records.drop_duplicates("case_key", keep="last")


def _measure(row, base: Run, cur: Run, thresholds: Thresholds, control: str | None) -> dict:
    """Everything about one metric but its verdict, which waits for the p-values of all metrics."""
    key = row.case_key
    present = row._asdict()
    side = "_current" if row.presence == "right_only" else "_baseline"
    out = dict(zip(KEY, key))
    out["unit"] = present[f"unit{side}"]
    out["baseline"] = present["value_baseline"] if row.presence != "right_only" else None
    out["current"] = present["value_current"] if row.presence != "left_only" else None
    out.update(change=None, change_vs_control=None, n_baseline=None, n_current=None, limit="", note="",
               presence=row.presence, _p=None, _worse=False, _better=False, _tested=False)
    if row.presence != "both":
        return out
    b, c = float(out["baseline"]), float(out["current"])
    out["change"] = (c - b) / abs(b) if b else (0.0 if c == b else float("inf"))
    limit = thresholds.limit_for(key[-1])
    if limit is None:
        return out
    out["limit"] = limit.describe()
    rounds_b, rounds_c = base.replicates(key), cur.replicates(key)
    if rounds_b.empty and rounds_c.empty:  # a single number: its limit decides
        out["_worse"], out["_better"] = limit.exceeded_by(b, c), _mirror(limit).exceeded_by(b, c)
        if limit.outside_interval:
            low, high = base.value((*key[:-1], f"{key[-1]}_low")), base.value((*key[:-1], f"{key[-1]}_high"))
            if low is None or high is None:
                out["note"] = "the baseline has no interval for it: judged by the limit alone"
            else:
                out["_worse"] = out["_worse"] and (c < low if limit.better == "higher" else c > high)
                out["_better"] = out["_better"] and (c > high if limit.better == "higher" else c < low)
        return out
    out["n_baseline"], out["n_current"] = len(rounds_b), len(rounds_c)
    judged_b, judged_c = rounds_b, rounds_c
    if control and key[1] != control:
        control_key = (key[0], control, *key[2:])
        judged_b = _relative(rounds_b, base.replicates(control_key))
        judged_c = _relative(rounds_c, cur.replicates(control_key))
        if len(judged_b) and len(judged_c):
            out["change_vs_control"] = float(np.median(judged_c) / np.median(judged_b) - 1)
            c = b * (1 + out["change_vs_control"])  # the current value had the control not moved
        else:
            judged_b, judged_c = rounds_b, rounds_c
            out["note"] = "no rounds of the control to pair with: judged absolutely"
    worse, better = limit.exceeded_by(b, c), _mirror(limit).exceeded_by(b, c)
    out["_worse"], out["_better"] = worse, better
    if min(len(judged_b), len(judged_c)) < thresholds.min_rounds:
        out["note"] = f"fewer than {thresholds.min_rounds} rounds a side: no test, no verdict"
        return out
    out["_tested"] = True
    out["_p"] = shift_p_value(judged_b, judged_c)
    if not (worse or better) and key[1] == control:
        out["note"] = "the control: other variants are judged relative to it"
    return out


def _relative(rounds: pd.Series, control: pd.Series) -> np.ndarray:
    """The variant's round values over the control's in the same round (rounds both have)."""
    paired = pd.concat([rounds.rename("v"), control.rename("c")], axis=1, join="inner").dropna()
    return (paired["v"] / paired["c"]).to_numpy()


def _verdict(row: dict, thresholds: Thresholds, control: str | None) -> str:
    if row["presence"] == "left_only":
        row["note"] = "in the baseline only"
        return "missing"
    if row["presence"] == "right_only":
        row["note"] = "in the current run only"
        return "new"
    if not row["limit"]:
        return "info"
    beyond = row["_worse"] or row["_better"]
    if not beyond:
        relative, absolute = row["change_vs_control"], row["change"]
        if relative is not None and absolute is not None and abs(absolute - relative) > 0.05:
            row["note"] = (f"absolute {absolute:+.1%}, relative to {control} {relative:+.1%}: most of the change "
                           f"is the machine's")
        return "ok"
    if row["n_baseline"] is not None and not row["_tested"]:
        return "not enough replicates"
    if row["_tested"] and row["p_value"] >= thresholds.alpha:
        return "within noise"
    if row["variant"] == control:
        row["note"] = "the control moved: the machine (or the torch stack) changed; others are judged relative to it"
        return "drift"
    return "regressed" if row["_worse"] else "improved"


def _mirror(limit: Limit) -> Limit:
    return Limit("higher" if limit.better == "lower" else "lower", limit.relative, limit.absolute,
                 limit.outside_interval)


def environment_differences(base: dict, cur: dict) -> tuple[list, list]:
    """(machine differences, software differences) as 'field: baseline -> current' lines."""
    def describe(name, a, b):
        if isinstance(a, list) and isinstance(b, list):
            gone, added = sorted(set(a) - set(b)), sorted(set(b) - set(a))
            return f"{name}: " + "; ".join(filter(None, [f"only baseline has {' '.join(gone)}" if gone else "",
                                                          f"only current has {' '.join(added)}" if added else ""]))
        return f"{name}: {a} -> {b}"
    machine = [describe(f, base.get(f), cur.get(f)) for f in MACHINE_FIELDS if base.get(f) != cur.get(f)]
    machine += speed_differences(base, cur)
    software = [describe(f, base.get(f), cur.get(f)) for f in SOFTWARE_FIELDS if base.get(f) != cur.get(f)]
    generation_b, generation_c = base.get("generation") or {}, cur.get("generation") or {}
    software += [describe(name, generation_b.get(name), generation_c.get(name)) for name in
                 sorted(set(generation_b) | set(generation_c)) if generation_b.get(name) != generation_c.get(name)]
    versions_b, versions_c = base.get("versions", {}) or {}, cur.get("versions", {}) or {}
    for name in sorted(set(versions_b) | set(versions_c)):
        if versions_b.get(name) != versions_c.get(name):
            software.append(describe(name, versions_b.get(name, "absent"), versions_c.get(name, "absent")))
    if not base or not cur:
        machine.insert(0, "environment: one run has no fingerprint, so machine and versions cannot be checked")
    return machine, software


def speed_differences(base: dict, cur: dict) -> list:
    """The machine-speed probe's moves beyond SPEED_TOLERANCE between the runs, start against start and end
    against end."""
    lines = []
    for when in ("start", "end"):
        b = ((base.get("machine") or {}).get(when) or {}).get(SPEED_PROBE)
        c = ((cur.get("machine") or {}).get(when) or {}).get(SPEED_PROBE)
        if b and c and max(b, c) > (1 + SPEED_TOLERANCE) * min(b, c):
            lines.append(f"machine speed at the {when} ({SPEED_PROBE}): {b:g} -> {c:g}, more than "
                         f"{SPEED_TOLERANCE:.0%} apart, so absolute timings are not comparable")
    return lines


def _number(value, unit=None) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = f"{value:.4g}"
    return f"{text} {unit}" if unit else text


def _percent(value) -> str:
    return "" if value is None or pd.isna(value) else f"{value:+.1%}"


def _case(row) -> str:
    parts = [row["variant"]]
    if row["steps"] is not None and not pd.isna(row["steps"]):
        parts.append(f"{int(row['steps'])} steps {row['scheduler']}")
    return ", ".join(parts)


def _table(rows: pd.DataFrame) -> str:
    lines = []
    for _, row in rows.iterrows():
        p = "" if row["p_value"] is None or pd.isna(row["p_value"]) else f"{row['p_value']:.3g}"
        note = row["note"]
        if row["n_baseline"] is not None and not pd.isna(row["n_baseline"]):
            note = f"rounds {int(row['n_baseline'])}/{int(row['n_current'])}" + (f"; {note}" if note else "")
        lines.append((_case(row), row["metric"], _number(row["baseline"], row["unit"]),
                      _number(row["current"], row["unit"]), _percent(row["change"]),
                      _percent(row["change_vs_control"]), row["limit"], p, f"**{row['verdict']}**", note))
    return markdown_table(["case", "metric", "baseline", "current", "change", "vs control", "limit", "p (adjusted)",
                           "verdict", "note"], lines)


def render_markdown(comparison: Comparison) -> str:
    table = comparison.table
    status = "REGRESSION" if comparison.regressed else "no regression"
    text = f"## sdopt-bench compare: {status}\n\nBaseline `{comparison.baseline}`, current `{comparison.current}`.\n\n"
    text += ", ".join(f"{n} {verdict}" for verdict, n in comparison.counts().items()) + ".\n\n"
    if comparison.control:
        moved = table[(table.variant == comparison.control) & table.change.notna() & table.n_baseline.notna()]
        text += (f"Control `{comparison.control}` (the machine's drift): " +
                 ", ".join(f"{r.metric} {r.change:+.1%}" for r in moved.itertuples()) +
                 ". Other variants' timings are judged relative to it, round by round.\n\n")
    if comparison.machine_differences:
        text += "**Different machines**: timings are not comparable as a regression test.\n\n"
        text += "".join(f"- {line}\n" for line in comparison.machine_differences) + "\n"
    if comparison.software_differences:
        text += "**Different software or settings**: differences may come from these.\n\n"
        text += "".join(f"- {line}\n" for line in comparison.software_differences) + "\n"
    notable = table[~table["verdict"].isin(["ok", "info"])]
    if len(notable):
        text += _table(notable) + "\n"
    text += "<details><summary>All metrics</summary>\n\n" + _table(table) + "\n</details>\n"
    return text
