"""Stage reporting for slow builds: every stage says what it does and how long it took; loops (QAT steps,
calibration prompts) show a bar, not a line per step.

Both the line sink and the bar factory are replaceable, so that a pytest run can print through its own display
even while output is captured (bench/progress_display.py). By default a bar is tqdm's on a terminal, and outside
one (CI logs, files) a line at each quarter: a log keeps a few lines per loop, not hundreds.
"""
import os
import sys
import time
from contextlib import contextmanager
from typing import Callable

from tqdm import tqdm

_sink: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)


def set_sink(sink: Callable[[str], None]) -> Callable[[str], None]:
    """Route progress lines to `sink`; returns the previous one so callers can restore it."""
    global _sink
    previous, _sink = _sink, sink
    return previous


def say(message: str) -> None:
    _sink(f"[sdopt] {message}")


@contextmanager
def stage(what: str):
    say(f"{what} ...")
    start = time.perf_counter()
    yield
    say(f"{what} done in {time.perf_counter() - start:.1f}s")


def interactive() -> bool:
    """A person watches a terminal: not a CI job, not a file or pipe."""
    forced = os.environ.get("SDOPT_PROGRESS")
    if forced in ("on", "off"):  # forced either way, CI or not
        return forced == "on"
    if os.environ.get("CI"):
        return False
    # sys.__stderr__: the process's own stream, even while pytest captures sys.stderr
    return bool(sys.__stderr__ and sys.__stderr__.isatty())


class QuarterLines:
    """A bar for logs: one line at 25%, 50%, 75% and the end."""

    def __init__(self, what: str, total: int):
        self.what, self.total, self.started, self.next_quarter = what, total, time.perf_counter(), 1

    def update(self, done: int, note: str = "") -> None:
        while self.total and done * 4 >= self.next_quarter * self.total and self.next_quarter <= 4:
            self.next_quarter += 1
            say(f"{self.what} {done}/{self.total} ({time.perf_counter() - self.started:.0f}s){' ' + note if note else ''}")

    def close(self) -> None:
        pass


class TerminalBar:
    """tqdm's bar (kept by the libraries already installed: diffusers and transformers draw theirs with it)."""

    def __init__(self, what: str, total: int, position: int = 0, file=None, ncols: int | None = None):
        self.bar = tqdm(total=total, desc=what, position=position, leave=False, dynamic_ncols=ncols is None,
                        ncols=ncols, smoothing=0, file=file or sys.__stderr__)

    def update(self, done: int, note: str = "") -> None:
        self.bar.n = done
        if note:
            self.bar.set_postfix_str(note, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _default_bar(what: str, total: int):
    return TerminalBar(what, total) if interactive() else QuarterLines(what, total)


_bar_factory = _default_bar


def set_bar_factory(factory) -> object:
    """Route bars to `factory(what, total)` (an object with update(done, note) and close()); returns the
    previous factory."""
    global _bar_factory
    previous, _bar_factory = _bar_factory, factory
    return previous


@contextmanager
def bar(what: str, total: int, start: int = 0):
    """Yields update(done, note=""): the loop's count so far and a short note (a loss, say)."""
    shown = _bar_factory(what, total)
    shown.update(start)
    try:
        yield shown.update
    finally:
        shown.close()
