"""A run folder written while the run goes, so that a run stopped at any point keeps what it finished.

Each finished test appends one line to `journal.jsonl`: its node id, outcome and the records and rounds it
made, in a single write (a kill, even SIGKILL, leaves whole lines: a test is in the journal with all of its
records, or not at all). records.csv and rounds.csv are rebuilt from the journal after every test (staged, then
renamed), so the folder is readable at any moment. `INCOMPLETE` (JSON: the collected test count, the options,
the pid) stays until the session finishes every test; `--resume RUN` reads it and runs only what the journal
lacks. Images and extra files are written in place as they are made, each staged and renamed.
"""
import json
import os
import time
from pathlib import Path

import pandas as pd

from .analysis.journal import JOURNAL, MARKER, progress_of, read_journal, read_marker, records_of
from .analysis.report import point_latest, render_figures, render_summary

__all__ = ["JOURNAL", "MARKER", "LiveRun", "append_line", "progress_of", "read_journal", "read_marker",
           "write_atomically"]


def write_atomically(path: Path, content: str | bytes) -> None:
    """Stage beside the target, then rename: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.partial")
    staged.write_bytes(content.encode() if isinstance(content, str) else content)
    os.replace(staged, path)


def append_line(path: Path, line: str) -> None:
    """One whole line in one write(2) on an O_APPEND descriptor: kills land between lines, not inside one."""
    data = (line.rstrip("\n") + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"{path}: short append ({written} of {len(data)} bytes)")
    finally:
        os.close(fd)


class LiveRun:
    """The run folder of a session in progress (or of the one it resumes)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @classmethod
    def start(cls, results_root: Path, run_id: str, tests: int, options: dict) -> "LiveRun":
        folder = Path(results_root) / run_id
        folder.mkdir(parents=True)
        run = cls(folder)
        run._mark(tests, options)
        return run

    @classmethod
    def resume(cls, folder: Path, tests: int, options: dict) -> "LiveRun":
        run = cls(folder)
        run._mark(tests, options)
        return run

    def _mark(self, tests: int, options: dict) -> None:
        write_atomically(self.folder / MARKER, json.dumps({"tests": tests, "options": options, "pid": os.getpid(),
                                                           "started": time.strftime("%Y-%m-%dT%H:%M:%S")}))

    def finished_tests(self) -> set[str]:
        return {entry["test"] for entry in read_journal(self.folder)}

    def add_test(self, nodeid: str, outcome: str, seconds: float, records: list[dict], rounds: list[dict]) -> None:
        entry = {"test": nodeid, "outcome": outcome, "seconds": round(seconds, 3), "records": records,
                 "rounds": rounds}
        append_line(self.folder / JOURNAL, json.dumps(entry, default=_plain))
        self.write_tables()

    def write_tables(self) -> None:
        records, rounds = records_of(self.folder)
        write_atomically(self.folder / "records.csv", records.to_csv(index=False))
        if not rounds.empty:
            write_atomically(self.folder / "rounds.csv", rounds.to_csv(index=False))

    def write_extra(self, name: str, content) -> None:
        """A file beside the records: a DataFrame, text, or a copy of a file."""
        target = self.folder / name
        if isinstance(content, pd.DataFrame):
            write_atomically(target, content.to_csv(index=False))
        elif isinstance(content, Path):
            write_atomically(target, content.read_bytes())
        else:
            write_atomically(target, str(content))

    def write_environment(self, env: dict) -> None:
        write_atomically(self.folder / "environment.json", json.dumps(env, indent=1, default=str))

    def finish(self, complete: bool) -> None:
        """Render the summary and figures; a complete run loses its marker and becomes results/latest."""
        self.write_tables()
        if complete:
            (self.folder / MARKER).unlink(missing_ok=True)
        else:  # the session is over: the marker's pid no longer runs anything
            marker = read_marker(self.folder) or {}
            write_atomically(self.folder / MARKER, json.dumps(marker | {"pid": None}))
        write_atomically(self.folder / "summary.md", render_summary(self.folder))
        render_figures(self.folder)
        if complete:
            point_latest(self.folder)

    def is_empty(self) -> bool:
        return not any(e.get("records") or e.get("rounds") for e in read_journal(self.folder))


def _plain(value):
    """numpy scalars and the like, as JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
