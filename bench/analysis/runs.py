"""One measured run, read back from disk: its records, its round-level replicates and its environment.

A run is a results folder (`records.csv`, `rounds.csv`, `environment.json` and, when the suites ran with
--benchmark-json, `benchmark.json`) or a pytest-benchmark JSON file alone (`--benchmark-json`, or one saved by
`--benchmark-autosave`), whose records and rounds are then read from its entries' extra_info.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..metrics import unit_of
from .records import COLUMNS, ROUND_COLUMNS

KEY = ["model", "variant", "steps", "scheduler", "resolution", "metric"]


@dataclass
class Run:
    source: Path
    records: pd.DataFrame
    environment: dict
    rounds: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ROUND_COLUMNS))

    @property
    def label(self) -> str:
        return str(self.source)

    def value(self, key: tuple) -> float | None:
        """The record at `key` (see KEY), or None."""
        rows = self.records
        mask = pd.Series(True, index=rows.index)
        for column, wanted in zip(KEY, key):
            mask &= rows[column].isna() if wanted is None else rows[column] == wanted
        found = rows[mask]
        return None if found.empty else float(found["value"].iloc[-1])

    def replicates(self, key: tuple) -> pd.Series:
        """The round-level values behind a record (see KEY), indexed by round; empty when it has none."""
        *case, metric = key
        rows = self.rounds
        if rows.empty:
            return pd.Series(dtype=float)
        wanted = dict(zip(KEY[:-1], case), metric=metric)
        mask = pd.Series(True, index=rows.index)
        for column, value in wanted.items():
            mask &= rows[column].isna() if value is None else rows[column] == value
        return rows[mask].set_index("round")["value"].sort_index()


def load_run(path) -> Run:
    path = Path(path)
    if path.is_dir():
        return _load_folder(path)
    if path.is_file() and path.suffix == ".json":
        bench = _read_json(path)
        rounds = rounds_from_benchmarks(bench)
        if rounds.empty:
            raise ValueError(f"{path}: no latency rounds from sdopt-bench's suites in this pytest-benchmark JSON")
        return Run(path, records_from_rounds(rounds), bench.get("machine_info", {}).get("sdopt_env", {}), rounds)
    raise FileNotFoundError(f"{path}: neither a results folder (with records.csv) nor a pytest-benchmark .json file")


def read_environment(folder: Path) -> dict:
    """A run folder's environment fingerprint ({} when the run has none)."""
    env_file = Path(folder) / "environment.json"
    return json.loads(env_file.read_text()) if env_file.is_file() else {}


def read_records(folder: Path) -> pd.DataFrame:
    """A run folder's records.csv, normalized (the one reader of it)."""
    records_csv = Path(folder) / "records.csv"
    if not records_csv.is_file():
        found = sorted(p.name for p in Path(folder).glob("*.json"))
        hint = f"; pytest-benchmark files here: {', '.join(found)} (pass one of them)" if found else ""
        raise FileNotFoundError(f"{folder}: no records.csv, so not a results folder{hint}")
    return _normalized(pd.read_csv(records_csv), COLUMNS)


def read_rounds(folder: Path) -> pd.DataFrame:
    """A run folder's rounds.csv, or its benchmark.json's rounds for runs written before rounds.csv existed."""
    folder = Path(folder)
    if (folder / "rounds.csv").is_file():
        return _normalized(pd.read_csv(folder / "rounds.csv"), ROUND_COLUMNS)
    if (folder / "benchmark.json").is_file():
        return rounds_from_benchmarks(_read_json(folder / "benchmark.json"))
    return pd.DataFrame(columns=ROUND_COLUMNS)


def _load_folder(path: Path) -> Run:
    return Run(path, read_records(path), read_environment(path), read_rounds(path))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


def _normalized(frame: pd.DataFrame, columns: list) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"records lack the columns {missing}: not written by sdopt-bench")
    frame = frame[columns].copy()
    # Steps are integers or empty (footprint); CSV makes them floats or NaN, JSON ints or None.
    frame["steps"] = frame["steps"].map(lambda s: None if pd.isna(s) else int(s)).astype(object)
    frame["scheduler"] = frame["scheduler"].map(lambda s: None if pd.isna(s) else str(s)).astype(object)
    return frame


def rounds_from_benchmarks(bench: dict) -> pd.DataFrame:
    """Round-level rows from the latency suite's pytest-benchmark entries (`extra_info["rounds"]`; an interleaved
    run holds one entry per round). Entries without them (older runs) give their rounds' end-to-end times."""
    rows = []
    for entry in bench.get("benchmarks", []):
        info = entry.get("extra_info", {})
        if not ({"variant", "steps", "scheduler", "model", "resolution"} <= info.keys() and entry.get("stats")):
            continue
        case = {k: info[k] for k in ("model", "variant", "scheduler", "resolution")} | {"steps": int(info["steps"])}
        rounds = info.get("rounds") or [{"round": i, "latency_median": t}
                                        for i, t in enumerate(entry["stats"].get("data") or [])]
        for values in rounds:
            rows += [{**case, "round": int(values["round"]), "metric": metric, "value": float(value),
                      "unit": unit_of(metric)} for metric, value in values.items() if metric != "round"]
    return _normalized(pd.DataFrame(rows, columns=ROUND_COLUMNS), ROUND_COLUMNS)


def records_from_rounds(rounds: pd.DataFrame) -> pd.DataFrame:
    """One record per case and metric: the median over its rounds (and latency_min, the fastest round)."""
    if rounds.empty:
        return pd.DataFrame(columns=COLUMNS)
    keys = [c for c in COLUMNS if c not in ("value",)]
    grouped = rounds.groupby(keys, dropna=False, sort=False)["value"]
    records = grouped.median().reset_index()
    fastest = rounds[rounds.metric == "latency_median"].groupby(keys, dropna=False, sort=False)["value"].min()
    fastest = fastest.reset_index().assign(metric="latency_min")
    return _normalized(pd.concat([records, fastest], ignore_index=True), COLUMNS)
