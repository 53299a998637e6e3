"""Reading a run folder's journal (bench/run_folder.py writes it): the tests finished, their records and rounds,
and where the run stands (complete, still running, or interrupted after n of N tests)."""
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .records import COLUMNS, ROUND_COLUMNS
from .runs import records_from_rounds

JOURNAL = "journal.jsonl"
MARKER = "INCOMPLETE"


@dataclass(frozen=True)
class Progress:
    """Where a run folder stands: tests finished of those collected, and whether its session is still going."""
    done: int
    total: int | None
    complete: bool
    running: bool

    def sentence(self) -> str:
        if self.complete:
            return f"complete: {self.done} tests"
        of = f" of {self.total}" if self.total is not None else ""
        if self.running:
            return f"still running: {self.done}{of} tests finished so far"
        return f"interrupted after {self.done}{of} tests"


def read_journal(run: Path) -> list[dict]:
    path = Path(run) / JOURNAL
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a full disk; every whole line before it counts
            break
    return entries


def read_marker(run: Path) -> dict | None:
    path = Path(run) / MARKER
    return json.loads(path.read_text()) if path.is_file() else None


def progress_of(run: Path) -> Progress:
    marker = read_marker(run)
    done = len({entry["test"] for entry in read_journal(run)})  # a warm-up pass may run again on resume
    if marker is None:
        return Progress(done, done, True, False)
    return Progress(done, marker.get("tests"), False, _alive(marker.get("pid")))


def _alive(pid) -> bool:
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def frames(entries: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(direct records, rounds) of the journal's tests."""
    records = [r for e in entries for r in e.get("records", [])]
    rounds = [r for e in entries for r in e.get("rounds", [])]
    return pd.DataFrame(records, columns=COLUMNS), pd.DataFrame(rounds, columns=ROUND_COLUMNS)


def records_of(run: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records with the per-case medians of the rounds, rounds) of the journal: what records.csv holds."""
    direct, rounds = frames(read_journal(run))
    return pd.concat([direct, records_from_rounds(rounds)], ignore_index=True), rounds
