"""One tidy record per measured number; everything else (tables, plots, compare) reads these."""
from dataclasses import asdict, dataclass

import pandas as pd

COLUMNS = ["model", "variant", "steps", "scheduler", "resolution", "metric", "value", "unit"]


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
    def __init__(self):
        self.records: list[Record] = []

    def add(self, **fields) -> None:
        self.records.append(Record(**fields))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.records], columns=COLUMNS)
