"""One tidy record per measured number; everything else (tables, plots, compare) reads these.

records.csv holds one value per (variant, steps, scheduler, metric): for timings, the median over rounds.
rounds.csv holds the round-level values behind them (a round = a fresh load, a warm-up, a timed generation):
the replicates that speedup intervals and `bench compare` rest on.
"""
from dataclasses import asdict, dataclass

import pandas as pd

COLUMNS = ["model", "variant", "steps", "scheduler", "resolution", "metric", "value", "unit"]
ROUND_COLUMNS = COLUMNS[:5] + ["round"] + COLUMNS[5:]


@dataclass(frozen=True)
class Record:
    model: str
    variant: str
    steps: int | None  # None for numbers that do not depend on the run (footprint)
    scheduler: str | None
    resolution: str
    metric: str
    value: float
    unit: str


class Recorder:
    """Everything a session recorded; `take` hands over what came since the last call (a test's share, which
    the run folder journals as the test finishes)."""

    def __init__(self):
        self.records: list[Record] = []
        self.rounds: list[dict] = []
        self._taken = (0, 0)

    def add(self, **fields) -> None:
        self.records.append(Record(**fields))

    def add_round(self, round: int, **fields) -> None:
        self.rounds.append({**asdict(Record(**fields)), "round": int(round)})

    def take(self) -> tuple[list[dict], list[dict]]:
        records, rounds = self._taken
        self._taken = (len(self.records), len(self.rounds))
        return [asdict(r) for r in self.records[records:]], self.rounds[rounds:]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.records], columns=COLUMNS)

    def rounds_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rounds, columns=ROUND_COLUMNS)
