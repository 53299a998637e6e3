"""One pytest session of the suites, as one object: its settings, what it records, the run folder it writes,
the artifacts it built and what each variant's runtime used. The plugin (bench/plugin.py) keeps exactly one, in
the config's stash, and its hooks and fixtures read and change it there."""
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .analysis.records import Recorder
from .settings import Settings

KEY = pytest.StashKey()


class RunFiles(dict):
    """Files beside the records (name -> DataFrame, text or Path), written into the run folder when set."""
    live = None

    def __setitem__(self, name, content):
        super().__setitem__(name, content)
        if self.live is not None:
            self.live.write_extra(name, content)


@dataclass
class BenchSession:
    settings: Settings
    resumed: Path | None = None  # the run folder --resume continues
    recorder: Recorder = field(default_factory=Recorder)
    extras: RunFiles = field(default_factory=RunFiles)  # files the report needs beside the records
    live: object = None  # the LiveRun being written (bench/run_folder.py); None for sessions that measure nothing
    variants_used: dict = field(default_factory=dict)  # name -> its runtime's settings as read back, its recipe
    machine_start: dict | None = None  # the machine's speed and load at the session's start
    machine_end: dict | None = None  # and at its end
    built: dict = field(default_factory=dict)  # variant name -> artifact folder, once per session


def session_of(config) -> BenchSession | None:
    """The session's object, once pytest_configure made it (None before)."""
    return config.stash.get(KEY, None)


def keep(config, session: BenchSession) -> BenchSession:
    config.stash[KEY] = session
    return session
