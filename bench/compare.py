"""`bench compare BASELINE CURRENT`: per metric, baseline, current, change and a verdict.

Verdicts: regressed, improved, within noise (beyond the limit, but the rank test cannot tell it from the
spread of the samples), ok, info (no limit configured), new, missing. Timings carrying samples are judged by
a one-sided Mann-Whitney U test on all their samples plus the metric's limit; single numbers by the limit.
"""
from dataclasses import dataclass, field

import pandas as pd
from scipy.stats import mannwhitneyu

from .runs import KEY, Run, load_run
from .thresholds import Limit, Thresholds, load_thresholds

FAILING = ("regressed",)
ORDER = ["regressed", "missing", "within noise", "improved", "new", "ok", "info"]
MACHINE_FIELDS = ("cpu_model", "isa", "logical_cores", "threads_used", "ov_cpu_capabilities")
SOFTWARE_FIELDS = ("python", "platform")


@dataclass
class Comparison:
    baseline: str
    current: str
    table: pd.DataFrame
    machine_differences: list = field(default_factory=list)
    software_differences: list = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return bool(self.table["verdict"].isin(FAILING).any())

    def counts(self) -> dict:
        counts = self.table["verdict"].value_counts()
        return {verdict: int(counts[verdict]) for verdict in ORDER if verdict in counts}

    def markdown(self) -> str:
        return render_markdown(self)


def compare_runs(baseline, current, thresholds: Thresholds | None = None) -> Comparison:
    """Compare two runs (paths or loaded `Run`s) metric by metric."""
    base = baseline if isinstance(baseline, Run) else load_run(baseline)
    cur = current if isinstance(current, Run) else load_run(current)
    thresholds = thresholds or load_thresholds()
    merged = pd.merge(_keyed(base.records), _keyed(cur.records), on="case_key", how="outer",
                      suffixes=("_baseline", "_current"), indicator="presence")
    rows = [_judge(row, base, cur, thresholds) for row in merged.itertuples(index=False)]
    table = pd.DataFrame(rows)
    table["_order"] = table["verdict"].map(ORDER.index)
    table = table.sort_values(["_order", "variant", "metric"], kind="stable").drop(columns="_order")
    machine, software = environment_differences(base.environment, cur.environment)
    return Comparison(base.label, cur.label, table.reset_index(drop=True), machine, software)


def _keyed(records: pd.DataFrame) -> pd.DataFrame:
    records = records.copy()
    records["case_key"] = [tuple(None if pd.isna(v) else v for v in row)
                           for row in records[KEY].itertuples(index=False)]
    return records.drop_duplicates("case_key", keep="last")


def _judge(row, base: Run, cur: Run, thresholds: Thresholds) -> dict:
    key = row.case_key
    present = row._asdict()
    side = "_current" if row.presence == "right_only" else "_baseline"
    out = dict(zip(KEY, key))
    out["unit"] = present[f"unit{side}"]
    out["baseline"] = present["value_baseline"] if row.presence != "right_only" else None
    out["current"] = present["value_current"] if row.presence != "left_only" else None
    out.update(change=None, p_value=None, n_baseline=None, n_current=None, limit="", note="")
    if row.presence == "left_only":
        return {**out, "verdict": "missing", "note": "in the baseline only"}
    if row.presence == "right_only":
        return {**out, "verdict": "new", "note": "in the current run only"}
    b, c = float(out["baseline"]), float(out["current"])
    out["change"] = (c - b) / abs(b) if b else (0.0 if c == b else float("inf"))
    limit = thresholds.limit_for(key[-1])
    if limit is None:
        return {**out, "verdict": "info"}
    out["limit"] = limit.describe()
    worse = limit.exceeded_by(b, c)
    better = _mirror(limit).exceeded_by(b, c)
    if not (worse or better):
        return {**out, "verdict": "ok"}
    verdict = "regressed" if worse else "improved"
    samples_b, samples_c = base.samples.get(key), cur.samples.get(key)
    if samples_b and samples_c:  # timings: the shift must also stand out from the samples' spread
        out["n_baseline"], out["n_current"] = len(samples_b), len(samples_c)
        if min(len(samples_b), len(samples_c)) < thresholds.min_samples:
            out["note"] = f"too few samples for a noise test (fewer than {thresholds.min_samples})"
        else:
            # Is the current sample stochastically larger (or smaller) than the baseline's?
            alternative = "greater" if worse == (limit.better == "lower") else "less"
            out["p_value"] = float(mannwhitneyu(samples_c, samples_b, alternative=alternative).pvalue)
            if out["p_value"] >= thresholds.alpha:
                verdict = "within noise"
    return {**out, "verdict": verdict}


def _mirror(limit: Limit) -> Limit:
    return Limit("higher" if limit.better == "lower" else "lower", limit.relative, limit.absolute)


def environment_differences(base: dict, cur: dict) -> tuple[list, list]:
    """(machine differences, software differences) as 'field: baseline -> current' lines."""
    def describe(name, a, b):
        if isinstance(a, list) and isinstance(b, list):
            gone, added = sorted(set(a) - set(b)), sorted(set(b) - set(a))
            return f"{name}: " + "; ".join(filter(None, [f"only baseline has {' '.join(gone)}" if gone else "",
                                                          f"only current has {' '.join(added)}" if added else ""]))
        return f"{name}: {a} -> {b}"
    machine = [describe(f, base.get(f), cur.get(f)) for f in MACHINE_FIELDS if base.get(f) != cur.get(f)]
    software = [describe(f, base.get(f), cur.get(f)) for f in SOFTWARE_FIELDS if base.get(f) != cur.get(f)]
    versions_b, versions_c = base.get("versions", {}) or {}, cur.get("versions", {}) or {}
    for name in sorted(set(versions_b) | set(versions_c)):
        if versions_b.get(name) != versions_c.get(name):
            software.append(describe(name, versions_b.get(name, "absent"), versions_c.get(name, "absent")))
    if not base or not cur:
        machine.insert(0, "environment: one run has no fingerprint, so machine and versions cannot be checked")
    return machine, software


def _number(value, unit=None) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = f"{value:.4g}"
    return f"{text} {unit}" if unit else text


def _case(row) -> str:
    parts = [row["variant"]]
    if row["steps"] is not None and not pd.isna(row["steps"]):
        parts.append(f"{int(row['steps'])} steps {row['scheduler']}")
    return ", ".join(parts)


def _table(rows: pd.DataFrame) -> str:
    lines = ["| case | metric | baseline | current | change | limit | p | verdict | note |", "|---" * 9 + "|"]
    for _, row in rows.iterrows():
        change = "" if row["change"] is None or pd.isna(row["change"]) else f"{row['change']:+.1%}"
        p = "" if row["p_value"] is None or pd.isna(row["p_value"]) else f"{row['p_value']:.3g}"
        note = row["note"]
        if row["n_baseline"] is not None and not pd.isna(row["n_baseline"]):
            note = f"n={int(row['n_baseline'])}/{int(row['n_current'])}" + (f"; {note}" if note else "")
        lines.append(f"| {_case(row)} | {row['metric']} | {_number(row['baseline'], row['unit'])} | "
                     f"{_number(row['current'], row['unit'])} | {change} | {row['limit']} | {p} | **{row['verdict']}** | {note} |")
    return "\n".join(lines) + "\n"


def render_markdown(comparison: Comparison) -> str:
    table = comparison.table
    status = "REGRESSION" if comparison.regressed else "no regression"
    text = f"## sdopt-bench compare: {status}\n\nBaseline `{comparison.baseline}`, current `{comparison.current}`.\n\n"
    text += ", ".join(f"{n} {verdict}" for verdict, n in comparison.counts().items()) + ".\n\n"
    if comparison.machine_differences:
        text += "**Different machines**: timings are not comparable as a regression test.\n\n"
        text += "".join(f"- {line}\n" for line in comparison.machine_differences) + "\n"
    if comparison.software_differences:
        text += "**Different software**: differences may come from these upgrades.\n\n"
        text += "".join(f"- {line}\n" for line in comparison.software_differences) + "\n"
    notable = table[~table["verdict"].isin(["ok", "info"])]
    if len(notable):
        text += _table(notable) + "\n"
    text += "<details><summary>All metrics</summary>\n\n" + _table(table) + "\n</details>\n"
    return text
