"""Stage reporting for slow builds: every stage says what it does and how long it took.

The sink is replaceable so that a pytest run can print through its terminal reporter even while
output is captured (see conftest.py).
"""
import sys
import time
from contextlib import contextmanager
from typing import Callable

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


def count(what: str, done: int, total: int, started: float) -> None:
    """A one-line progress update for loops (calibration prompts, components)."""
    say(f"{what} {done}/{total} ({time.perf_counter() - started:.1f}s)")
