"""The one quality rule: each criterion can fail on its own, and a verdict one prompt would turn says so."""
import pandas as pd
import pytest

from bench.analysis.thresholds import load_thresholds
from bench.analysis.verdict import (EDGE_FAILS, EDGE_HOLDS, FAILS, HOLDS, QualityRule, judge, mcnemar_p,
                                    verdicts)

RULE = QualityRule(alpha=0.05, adherence_points=0.02, fid_factor=1.5, fid_edge=0.05)
REF = {"adherence": 0.99, "adherence_n": 201}


def _row(adherence=0.99, lost=0, gained=0, fid=70.0, n=201):
    return {"variant": "v", "adherence": adherence, "adherence_n": n, "adherence_lost": lost,
            "adherence_gained": gained, "fid": fid}


def test_mcnemar_p_is_the_exact_binomial_on_discordant_pairs():
    # 13 lost, 3 gained: 2 * P(X <= 3 | n=16, p=1/2) = 2 * (1 + 16 + 120 + 560) / 65536
    assert mcnemar_p(13, 3) == pytest.approx(2 * 697 / 65536)
    assert mcnemar_p(0, 0) == 1.0


def test_each_criterion_fails_on_its_own():
    assert judge(_row(), REF, 70.0, RULE).verdict == HOLDS
    lost = judge(_row(lost=15, gained=2), REF, 70.0, RULE)
    assert lost.verdict == FAILS and "15 lost / 2 gained" in lost.reasons
    assert judge(_row(adherence=0.95), REF, 70.0, RULE).verdict == FAILS
    fid = judge(_row(fid=120.0), REF, 70.0, RULE)
    assert fid.verdict == FAILS and "FID 120.0 against a bar of 105.0" in fid.reasons


def test_a_significant_gain_is_no_loss():
    assert judge(_row(lost=1, gained=15), REF, 70.0, RULE).verdict == HOLDS


def test_a_verdict_one_prompt_would_turn_is_at_the_edge():
    # 10 lost / 2 gained: p 0.039 fails; 9 / 2 (p 0.065) would pass
    assert mcnemar_p(10, 2) < 0.05 <= mcnemar_p(9, 2)
    assert judge(_row(lost=10, gained=2), REF, 70.0, RULE).verdict == EDGE_FAILS
    assert judge(_row(lost=9, gained=2), REF, 70.0, RULE).verdict == EDGE_HOLDS
    # adherence 0.970149 against a bar of 0.970050: one prompt fewer right would fail
    edge = judge(_row(adherence=195 / 201), {"adherence": 0.99005, "adherence_n": 201}, 70.0, RULE)
    assert edge.verdict == EDGE_HOLDS and "adherence" in edge.reasons
    assert judge(_row(fid=104.0), REF, 70.0, RULE).verdict == EDGE_HOLDS
    assert judge(_row(fid=108.0), REF, 70.0, RULE).verdict == EDGE_FAILS
    # failing on one criterion clearly and at the edge on another is a plain failure
    assert judge(_row(adherence=0.90, fid=104.0), REF, 70.0, RULE).verdict == FAILS


def test_verdicts_from_a_runs_records_take_the_fid_bar_from_ov_fp32():
    rows = []
    for variant, values in {"torch-fp32": dict(adherence=0.99, adherence_n=201, fid=60.0),
                            "ov-fp32": dict(adherence=0.99, adherence_n=201, fid=80.0, adherence_lost=0,
                                            adherence_gained=0),
                            "ov-int8": dict(adherence=0.985, adherence_n=201, fid=110.0, adherence_lost=1,
                                            adherence_gained=0)}.items():
        rows += [dict(model="shapes", resolution="64x64", steps=20, scheduler="pndm", variant=variant, metric=k,
                      value=v, unit="") for k, v in values.items()]
    found = verdicts(pd.DataFrame(rows), RULE).set_index("variant")["verdict"]
    assert found["torch-fp32"] == "reference" and found["ov-fp32"] == HOLDS and found["ov-int8"] == HOLDS
    no_shapes = verdicts(pd.DataFrame(rows).query("metric == 'fid'"), RULE).set_index("variant")["verdict"]
    assert no_shapes["ov-int8"] == ""


def test_the_rule_is_read_from_the_thresholds_file(tmp_path):
    assert load_thresholds().quality == RULE
    path = tmp_path / "t.toml"
    path.write_text("[quality]\nalpha = 0.01\nfid_factor = 2.0\n")
    assert load_thresholds(path).quality == QualityRule(alpha=0.01, fid_factor=2.0)
    path.write_text("[quality]\nalfa = 0.01\n")
    with pytest.raises(ValueError, match=r"\[quality\] has unknown keys \['alfa'\]"):
        load_thresholds(path)
    path.write_text("[quality]\nfid_factor = 0.5\n")
    with pytest.raises(ValueError, match="fid_factor >= 1"):
        load_thresholds(path)
