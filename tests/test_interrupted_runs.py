"""A run stopped at any point keeps every finished test's records in a folder marked incomplete, which `bench
report` describes and `--resume` completes: Ctrl-C (SIGINT) during a generation, SIGKILL at any point, and
SIGTERM, which the plugin turns into Ctrl-C's exception so that pytest takes the same orderly path."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.run_folder import JOURNAL, MARKER
from inprocess import run_suites

ROOT = Path(__file__).resolve().parents[1]
# Two latency tests of 20-step generations: ov-fp32's first (about 3 s), then torch-fp32's (a load and four
# generations of about 0.4 s), so a signal sent a second after the first test finished lands inside the second.
# The two stages that are signalled are fresh processes (about 11 s of imports each).
SUITES = [str(ROOT / "suites" / "test_latency.py")]
OPTIONS = ["--variants", "ov-fp32,torch-fp32", "--steps", "20", "--rounds", "1", "-p", "no:cacheprovider"]


def journal(run: Path) -> list[dict]:
    path = run / JOURNAL
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def start(args, cwd) -> subprocess.Popen:
    # SIGINT back at its default in the child: a shell's background job inherits it ignored, and Python then
    # installs no KeyboardInterrupt handler (a terminal's foreground job has the default, as here).
    return subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=os.environ | {"SDOPT_PROGRESS": "off"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def stop_after(process: subprocess.Popen, results: Path, tests_done: int, signum: int) -> str:
    """Wait until this process owns the run folder (its pid in the marker) and the journal holds `tests_done`
    tests, let the next test start generating, then signal."""
    from bench.run_folder import read_marker
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        runs = [p for p in results.iterdir() if p.is_dir() and not p.is_symlink()] if results.is_dir() else []
        marker = read_marker(runs[0]) if runs else None
        if marker and marker["pid"] == process.pid and len(journal(runs[0])) >= tests_done:
            break
        assert process.poll() is None, process.communicate()[0][-3000:]
        time.sleep(0.1)
    time.sleep(1)  # inside the next test (see SUITES)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=120)
    return output


def report(run: Path, capsys) -> str:
    from bench.__main__ import main
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    return capsys.readouterr().out


def test_a_run_killed_at_any_point_keeps_its_finished_tests_and_resumes_to_completion(tmp_path, shared_cache,
                                                                                      capsys, pytester):
    results = tmp_path / "results"
    cache = ["--sdopt-cache", str(shared_cache.root), "--results-dir", str(results)]
    resume = lambda run: [*SUITES, "--resume", str(run), "-p", "no:cacheprovider"]

    # Ctrl-C in the second test's generation: an orderly stop, no crash, the first test kept.
    output = stop_after(start([*SUITES, *OPTIONS, *cache], ROOT), results, 1, signal.SIGINT)
    [run] = [p for p in results.iterdir() if not p.is_symlink()]
    assert "Segmentation fault" not in output and "Fatal Python error" not in output, output[-3000:]
    assert "interrupted after 1 of 2 tests" in output, output[-3000:]
    assert (run / MARKER).is_file() and not (results / "latest").exists()  # latest: complete runs only
    records = pd.read_csv(run / "records.csv")
    assert set(records[records.metric == "latency_median"].variant) == {"ov-fp32"}
    assert "interrupted after 1 of 2 tests" in report(run, capsys)

    # SIGKILL in the resumed run's only test: no handler runs; the journal holds whole tests only, and `bench
    # report` reads it.
    process = start(resume(run), ROOT)
    stop_after(process, results, 1, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    assert len(journal(run)) == 1 and (run / MARKER).is_file()
    assert "interrupted after 1 of 2 tests" in report(run, capsys)

    # The last resume runs only the missing test and completes the folder; no signal is sent, so it runs in this
    # process.
    done = run_suites(pytester, *resume(run))
    done.assert_outcomes(passed=1, deselected=1)
    tests = [e["test"] for e in journal(run)]
    assert len(tests) == len(set(tests)) == 2 and not (run / MARKER).exists()
    assert (results / "latest").resolve() == run.resolve()
    records = pd.read_csv(run / "records.csv")
    assert records[records.metric == "latency_median"].variant.value_counts().to_dict() == {"ov-fp32": 1,
                                                                                          "torch-fp32": 1}
    summary = (run / "summary.md").read_text()
    assert "interrupted" not in summary and "## Headline" in summary


def test_sigterm_raises_what_ctrl_c_raises_so_the_session_ends_the_same_way():
    """What SIGTERM then does to a run folder is what Ctrl-C does, shown end to end above."""
    from bench.plugin import Terminated, _stop_cleanly_on_sigterm
    previous = signal.getsignal(signal.SIGTERM)
    try:
        _stop_cleanly_on_sigterm()
        with pytest.raises(KeyboardInterrupt) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs at the next bytecode; never reached
        assert isinstance(raised.value, Terminated)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_resume_refuses_a_complete_run_and_other_options(tmp_path, pytester):
    from bench.run_folder import LiveRun
    complete = tmp_path / "complete"
    complete.mkdir()
    result = pytester.runpytest_inprocess(str(ROOT / "suites"), "--resume", str(complete), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "nothing to resume" in result.stderr.str()
    LiveRun.start(tmp_path, "stopped", 4, {"steps": "60", "variants": "torch-fp32,ov-fp32"})
    result = pytester.runpytest_inprocess(str(ROOT / "suites"), "--resume", str(tmp_path / "stopped"),
                                          "--steps", "20", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "that run used --steps '60', not '20'" in result.stderr.str()
