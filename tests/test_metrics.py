"""Every metric is one row of bench/metrics.py: the units it gives agree with what the suites recorded before the
table existed (the committed run folders), and compare's limits follow its directions."""
from pathlib import Path

import pandas as pd
import pytest

from bench import metrics
from bench.analysis.thresholds import load_thresholds

ROOT = Path(__file__).resolve().parents[1]


def _recorded() -> pd.DataFrame:
    """(metric, unit) pairs of every committed run folder, records and rounds: recorded with units written by
    hand at each call."""
    frames = [pd.read_csv(path, usecols=["metric", "unit"])
              for name in ("records.csv", "rounds.csv") for path in (ROOT / "docs" / "measurements").rglob(name)]
    return pd.concat(frames).drop_duplicates()


def test_every_metric_recorded_so_far_has_a_row_with_the_unit_it_was_recorded_in():
    recorded = _recorded()
    assert len(recorded) > 40  # latency, memory, footprint, profile and quality runs are all among them
    wrong = {(row.metric, row.unit, metrics.unit_of(row.metric)) for row in recorded.itertuples()
             if metrics.unit_of(row.metric) != row.unit}
    assert not wrong


def test_a_metric_without_a_row_is_refused_naming_the_table():
    with pytest.raises(KeyError, match="bench/metrics.py"):
        metrics.spec_of("latency_mediam")


def test_every_default_limit_has_a_direction_and_compare_reads_them():
    limited = [spec for spec in metrics.METRICS if spec.limit is not None]
    assert limited and all(spec.better in ("lower", "higher") for spec in limited)
    thresholds = load_thresholds()
    for spec in limited:
        found = thresholds.limit_for(spec.name)
        assert (found.better, found.relative, found.absolute) == (spec.better, spec.limit.relative,
                                                                  spec.limit.absolute)
    assert thresholds.limit_for("text_encoder_median").relative == 0.15  # a glob row
    assert thresholds.limit_for("latency_min") is None  # no replicates: shown, never judged


def test_an_own_thresholds_file_takes_the_direction_from_the_table_and_refuses_the_opposite(tmp_path):
    path = tmp_path / "own.toml"
    path.write_text("[metrics.psnr]\nabsolute = 3.0\n")
    assert load_thresholds(path).limit_for("psnr").better == "higher"
    path.write_text('[metrics.psnr]\nbetter = "lower"\nabsolute = 3.0\n')
    with pytest.raises(ValueError, match="psnr is better higher"):
        load_thresholds(path)


def test_the_summary_columns_come_from_the_table():
    from bench.analysis.report import FORMATS, HEADERS
    assert list(FORMATS) == [spec.column for spec in metrics.METRICS if spec.column]
    assert HEADERS["latency_s"] == metrics.spec_of("latency_median").label
