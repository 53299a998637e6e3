"""Whether a variant holds quality: the one rule every table that states a verdict uses.

The rule's numbers live in bench/analysis/thresholds.toml, section [quality]. Against torch-fp32 on the same
prompts and seeds of a shapes model:
- paired: prompts lost and gained (all attributes right, image by image) show no significant loss: fewer lost
  than gained, or McNemar's exact two-sided p at least `alpha`;
- one-object adherence (all right) at most `adherence_points` below torch-fp32's;
- FID at most `fid_factor` times ov-fp32's in the same run (the exporter's own FID, so the bar moves with the
  sample and the FID reference, not with a number fixed once).
A verdict that one prompt would turn (one more prompt lost, or one fewer) or whose FID lies within `fid_edge` of
its bar is "at the edge": it is stated as such, never as a plain "holds".
"""
from dataclasses import dataclass

import pandas as pd

from ..conventions import REFERENCE

EXPORT_REFERENCE = "ov-fp32"  # the FID bar is a factor of this variant's FID
HOLDS, FAILS, EDGE_HOLDS, EDGE_FAILS = "holds", "fails", "holds, at the edge", "fails, at the edge"
REFERENCE_VERDICT = "reference"
NEEDS = ("adherence", "adherence_n")


@dataclass(frozen=True)
class QualityRule:
    alpha: float = 0.05
    adherence_points: float = 0.02
    fid_factor: float = 1.5
    fid_edge: float = 0.05

    def describe(self) -> str:
        return (f"quality holds: prompts lost / gained against torch-fp32 not significant (McNemar exact, p >= "
                f"{self.alpha:g}), one-object adherence within {self.adherence_points * 100:g} points of "
                f"torch-fp32's, FID at most {self.fid_factor:g}x ov-fp32's; \"at the edge\" when one prompt would "
                f"turn the verdict or FID is within {self.fid_edge:.0%} of its bar")


def mcnemar_p(lost: int, gained: int) -> float:
    from scipy.stats import binomtest
    return float(binomtest(int(lost), int(lost + gained)).pvalue) if lost + gained else 1.0


def significant_loss(lost: int, gained: int, alpha: float) -> bool:
    """More prompts lost than gained, beyond chance: a significant gain is no loss of quality."""
    return lost > gained and mcnemar_p(lost, gained) < alpha


@dataclass(frozen=True)
class Verdict:
    verdict: str  # one of HOLDS, FAILS, EDGE_HOLDS, EDGE_FAILS, or "" when the run cannot judge it
    reasons: str  # the criteria that failed or sit at the edge, in words


def judge(row: dict, reference: dict, export_fid: float | None, rule: QualityRule) -> Verdict:
    """One variant's verdict from its values (adherence, adherence_n, adherence_lost, adherence_gained, fid),
    torch-fp32's and ov-fp32's FID (None: no FID bar in this run)."""
    if any(pd.isna(row.get(name)) for name in NEEDS) or any(pd.isna(reference.get(n)) for n in NEEDS):
        return Verdict("", "no prompt adherence (a shapes model's run has it)")
    if row.get("variant") == REFERENCE:
        return Verdict(REFERENCE_VERDICT, "")
    checks = []  # (name, passes, at the edge)
    lost, gained = row.get("adherence_lost"), row.get("adherence_gained")
    if not pd.isna(lost):
        lost, gained = int(lost), int(gained)
        passes = not significant_loss(lost, gained, rule.alpha)
        turned = significant_loss(lost + 1, gained, rule.alpha) != (not passes) or (
            lost > 0 and significant_loss(lost - 1, gained, rule.alpha) != (not passes))
        checks.append((f"{lost} lost / {gained} gained (p {mcnemar_p(lost, gained):.2g})", passes, turned))
    bar, one_prompt = reference["adherence"] - rule.adherence_points, 1 / row["adherence_n"]
    passes = row["adherence"] >= bar - 1e-12
    turned = (row["adherence"] - one_prompt >= bar - 1e-12) != passes or (
        row["adherence"] + one_prompt >= bar - 1e-12) != passes
    checks.append((f"adherence {row['adherence']:.1%} against a bar of {bar:.1%}", passes, turned))
    fid = row.get("fid")
    if export_fid is not None and not pd.isna(fid) and not pd.isna(export_fid):
        fid_bar = export_fid * rule.fid_factor
        checks.append((f"FID {fid:.1f} against a bar of {fid_bar:.1f}", fid <= fid_bar,
                       abs(fid - fid_bar) <= rule.fid_edge * fid_bar))
    failed = [name for name, passes, _ in checks if not passes]
    edge = [name for name, _, turned in checks if turned]
    if failed:
        return Verdict(EDGE_FAILS if set(failed) <= set(edge) else FAILS, "; ".join(failed))
    return Verdict(EDGE_HOLDS if edge else HOLDS, "; ".join(edge))


def verdicts(records: pd.DataFrame, rule: QualityRule) -> pd.DataFrame:
    """Per case (model, resolution, steps, scheduler) and variant: verdict and reasons, from a run's records, by
    `rule` (the thresholds file's [quality]: `load_thresholds().quality`)."""
    wanted = list(NEEDS) + ["adherence_lost", "adherence_gained", "fid"]
    rows = records[records.metric.isin(wanted)].copy()
    keys = ["model", "resolution", "steps", "scheduler"]
    if rows.empty:
        return pd.DataFrame(columns=keys + ["variant", "verdict", "reasons"])
    rows["steps"] = rows["steps"].astype("Int64")
    wide = rows.pivot_table(index=keys + ["variant"], columns="metric", values="value", aggfunc="median")
    wide = wide.reindex(columns=wanted).reset_index()
    out = []
    for case, group in wide.groupby(keys, dropna=False):
        by_variant = group.set_index("variant")
        if REFERENCE not in by_variant.index:
            continue
        reference = by_variant.loc[REFERENCE].to_dict()
        export_fid = by_variant.at[EXPORT_REFERENCE, "fid"] if EXPORT_REFERENCE in by_variant.index else None
        for variant, values in by_variant.iterrows():
            found = judge(values.to_dict() | {"variant": variant}, reference, export_fid, rule)
            out.append([*case, variant, found.verdict, found.reasons])
    return pd.DataFrame(out, columns=keys + ["variant", "verdict", "reasons"])
