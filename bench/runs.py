"""One measured run, read back from disk: its records, its environment and the samples behind its timings.

A run is a results folder (`records.csv`, `environment.json` and, when the suites ran with --benchmark-json,
`benchmark.json`) or a pytest-benchmark JSON file alone (`--benchmark-json`, or one saved by
`--benchmark-autosave`), whose records are then derived from its rounds.
"""
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .records import COLUMNS

KEY = ["model", "variant", "steps", "scheduler", "resolution", "metric"]


@dataclass
class Run:
    source: Path
    records: pd.DataFrame
    environment: dict
    samples: dict = field(default_factory=dict)  # key tuple (see KEY) -> list of samples in the record's unit

    @property
    def label(self) -> str:
        return str(self.source)


def load_run(path) -> Run:
    path = Path(path)
    if path.is_dir():
        return _load_folder(path)
    if path.is_file() and path.suffix == ".json":
        bench = _read_json(path)
        records = records_from_benchmarks(bench)
        if records.empty:
            raise ValueError(f"{path}: no latency benchmarks from sdopt-bench's suites in this pytest-benchmark JSON")
        return Run(path, records, bench.get("machine_info", {}).get("sdopt_env", {}), samples_from_benchmarks(bench))
    raise FileNotFoundError(f"{path}: neither a results folder (with records.csv) nor a pytest-benchmark .json file")


def read_environment(folder: Path) -> dict:
    """A run folder's environment fingerprint ({} when the run has none)."""
    env_file = Path(folder) / "environment.json"
    return json.loads(env_file.read_text()) if env_file.is_file() else {}


def _load_folder(path: Path) -> Run:
    records_csv = path / "records.csv"
    if not records_csv.is_file():
        found = sorted(p.name for p in path.glob("*.json"))
        hint = f"; pytest-benchmark files here: {', '.join(found)} (pass one of them)" if found else ""
        raise FileNotFoundError(f"{path}: no records.csv, so not a results folder{hint}")
    records = _normalized(pd.read_csv(records_csv))
    environment = read_environment(path)
    bench_file = path / "benchmark.json"
    samples = samples_from_benchmarks(_read_json(bench_file)) if bench_file.is_file() else {}
    return Run(path, records, environment, samples)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def _normalized(records: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"records lack the columns {missing}: not written by sdopt-bench")
    records = records[COLUMNS].copy()
    # Steps are integers or empty (footprint); CSV makes them floats or NaN, JSON ints or None.
    records["steps"] = records["steps"].map(lambda s: None if pd.isna(s) else int(s)).astype(object)
    records["scheduler"] = records["scheduler"].map(lambda s: None if pd.isna(s) else str(s)).astype(object)
    return records


def _sdopt_benchmarks(bench: dict):
    for entry in bench.get("benchmarks", []):
        info = entry.get("extra_info", {})
        if {"variant", "steps", "scheduler", "model", "resolution"} <= info.keys() and entry.get("stats"):
            yield info, entry["stats"]


def samples_from_benchmarks(bench: dict) -> dict:
    """key -> every sample of that case; interleaved runs hold one benchmark entry per round, pooled here."""
    samples = {}
    for info, stats in _sdopt_benchmarks(bench):
        base = (info["model"], info["variant"], int(info["steps"]), info["scheduler"], info["resolution"])
        rounds = list(stats.get("data") or [])
        if rounds:
            samples.setdefault(base + ("latency_median",), []).extend(rounds)
            samples.setdefault(base + ("latency_min",), []).extend(rounds)
        for metric, values in info.get("samples_ms", {}).items():
            samples.setdefault(base + (metric,), []).extend(values)
    return samples


def records_from_benchmarks(bench: dict) -> pd.DataFrame:
    rows = []
    for key, values in samples_from_benchmarks(bench).items():
        if not values:
            continue
        model, variant, steps, scheduler, resolution, metric = key
        rows.append(dict(model=model, variant=variant, steps=steps, scheduler=scheduler, resolution=resolution,
                         metric=metric, **summarize(metric, values)))
    return _normalized(pd.DataFrame(rows, columns=COLUMNS))


def summarize(metric: str, values: list) -> dict:
    """A timing record from its samples: the minimum for latency_min, else the median; latency_* in seconds,
    the others in ms (the units the latency suite stores its samples in)."""
    value = min(values) if metric == "latency_min" else statistics.median(values)
    return {"value": value, "unit": "s" if metric.startswith("latency_") else "ms"}
