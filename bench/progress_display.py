"""One progress display for a suites session: which test runs (and what it builds), n of N tests, elapsed and
remaining time, in place of pytest's dots and sdopt's per-step lines.

tqdm draws it: diffusers and transformers already depend on it (no new package), it nests bars (a QAT build's
steps under the session's tests) and prints lines above them (`tqdm.write`), and it estimates the remaining time
from the rate so far (smoothing=0: the whole session's mean, not the last test's, since tests differ by 100x).
On a terminal only: in CI logs and files (`CI` set, or not a TTY) pytest's own output stays, and sdopt prints a
line per quarter of each loop. SDOPT_PROGRESS=on|off forces it either way.

While the bar is up, pytest's per-test output (file names, dots, percentages) is sent nowhere; failures and the
summary print as usual once the session ends.
"""
import io
import shutil
import sys
from contextlib import contextmanager

import pytest
from _pytest._io import TerminalWriter
from tqdm import tqdm

from sdopt import progress


class Uncaptured:
    """A stream that writes past pytest's capture (which holds file descriptors 1 and 2 during tests)."""

    def __init__(self, config, stream):
        self.capture = config.pluginmanager.getplugin("capturemanager")
        self.stream = stream

    def write(self, text: str) -> int:
        with self.capture.global_and_fixture_disabled():
            self.stream.write(text)
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True  # no fileno(): tqdm would then hide bars below a terminal height it cannot read (0 in CI ptys)


def wanted(config) -> bool:
    """On a terminal, checked with pytest's capture lifted (it points descriptor 2 at a file meanwhile)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return progress.interactive()
    with capture.global_and_fixture_disabled():
        return progress.interactive()


class SessionProgress:
    def __init__(self, config, file=None):
        tqdm.monitor_interval = 0  # no refresh from tqdm's own thread: only ours may lift the capture
        self.config = config
        self.file = file or Uncaptured(config, sys.__stderr__)
        self.bar = None
        self.previous_bars = None

    # --- pytest hooks -------------------------------------------------------------------------------------
    def pytest_collection_finish(self, session):
        self.bar = tqdm(total=len(session.items), desc="sdopt-bench", unit="test", position=0, leave=True, smoothing=0,
                        ncols=_width(), file=self.file,
                        bar_format="{desc}: {n}/{total} tests {bar} {percentage:3.0f}% [{elapsed}<{remaining}]")
        self.previous_bars = progress.set_bar_factory(self._nested_bar)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logstart(self, nodeid):
        if self.bar is not None:
            self.bar.set_description_str(_short(nodeid))
        with self._muted():
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logreport(self, report):
        with self._muted():
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logfinish(self, nodeid):
        with self._muted():
            result = yield
        if self.bar is not None:
            self.bar.update(1)
        return result

    def pytest_sessionfinish(self):
        if self.bar is not None:
            self.bar.set_description_str("sdopt-bench")
            self.bar.close()
            progress.set_bar_factory(self.previous_bars)
            self.bar = None

    # --- for the plugin ----------------------------------------------------------------------------------
    def write(self, line: str) -> None:
        """A line above the bar."""
        tqdm.write(line, file=self.file)

    def _nested_bar(self, what: str, total: int):
        return progress.TerminalBar(what, total, position=1, file=self.file, ncols=_width())

    @contextmanager
    def _muted(self):
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if reporter is None or self.bar is None:
            yield
            return
        kept = reporter._tw
        reporter._tw = TerminalWriter(io.StringIO())
        try:
            yield
        finally:
            reporter._tw = kept


def _width() -> int:
    return min(shutil.get_terminal_size((100, 24)).columns, 120)


def _short(nodeid: str) -> str:
    """suites/test_latency.py::test_latency[ov-fp32-20-pndm] -> latency ov-fp32-20-pndm"""
    path, _, name = nodeid.partition("::")
    test, _, params = name.partition("[")
    return f"{test.removeprefix('test_')} {params.rstrip(']')}".strip()
