"""A run stopped at any point keeps every finished test's records in a folder marked incomplete, which `bench
report` describes and `--resume` completes: Ctrl-C (SIGINT) and SIGTERM during a generation, SIGKILL too."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from bench.run_folder import JOURNAL, MARKER

ROOT = Path(__file__).resolve().parents[1]
# Four tests: two footprints (quick), then two latency tests of 150-step generations (about 3 s each on tiny),
# so a signal sent just after the n-th test finished lands inside a generation of the next.
SUITES = [str(ROOT / "suites" / "test_footprint.py"), str(ROOT / "suites" / "test_latency.py")]
OPTIONS = ["--variants", "torch-fp32,ov-fp32", "--steps", "150", "--rounds", "1", "-p", "no:cacheprovider"]


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
    # Inside the next test: a latency test loads, warms up and times 2 generations of 150 steps (torch-fp32
    # about 11 s in all on tiny, ov-fp32 about 4 s).
    time.sleep(2)
    process.send_signal(signum)
    output, _ = process.communicate(timeout=120)
    return output


def report(run: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "bench", "report", str(run)], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_run_killed_at_any_point_keeps_its_finished_tests_and_resumes_to_completion(tmp_path, shared_cache):
    results = tmp_path / "results"
    cache = ["--sdopt-cache", str(shared_cache.root), "--results-dir", str(results)]

    # Ctrl-C in the first latency test's generation: an orderly stop, no crash, two tests kept.
    output = stop_after(start([*SUITES, *OPTIONS, *cache], ROOT), results, 2, signal.SIGINT)
    [run] = [p for p in results.iterdir() if not p.is_symlink()]
    assert "Segmentation fault" not in output and "Fatal Python error" not in output, output[-3000:]
    assert "interrupted after 2 of 4 tests" in output, output[-3000:]
    assert (run / MARKER).is_file() and not (results / "latest").exists()  # latest: complete runs only
    records = pd.read_csv(run / "records.csv")
    assert set(records[records.metric == "footprint_total"].variant) == {"torch-fp32", "ov-fp32"}
    assert "interrupted after 2 of 4 tests" in report(run)

    # SIGTERM in the resumed run's first test (the same first latency test): nothing new is kept.
    output = stop_after(start([*SUITES, "--resume", str(run), "-p", "no:cacheprovider"], ROOT), results, 2,
                        signal.SIGTERM)
    assert "resuming" in output and "2 to run" in output, output[-3000:]
    assert [e["test"] for e in journal(run)][2:] == [] and (run / MARKER).is_file()

    # SIGKILL after the third test finished: no handler runs, the journal still holds whole tests only.
    process = start([*SUITES, "--resume", str(run), "-p", "no:cacheprovider"], ROOT)
    stop_after(process, results, 3, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    assert len(journal(run)) == 3 and (run / MARKER).is_file()
    assert "interrupted after 3 of 4 tests" in report(run)  # rebuilt from the journal by `bench report`
    latency = pd.read_csv(run / "records.csv")
    assert set(latency[latency.metric == "latency_median"].variant) == {"torch-fp32"}

    # The last resume runs only the missing test and completes the folder.
    done = subprocess.run([sys.executable, "-m", "pytest", *SUITES, "--resume", str(run), "-p", "no:cacheprovider"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed, 3 deselected" in done.stdout
    tests = [e["test"] for e in journal(run)]
    assert len(tests) == len(set(tests)) == 4 and not (run / MARKER).exists()
    assert (results / "latest").resolve() == run.resolve()
    records = pd.read_csv(run / "records.csv")
    assert records[records.metric == "footprint_total"].variant.value_counts().to_dict() == {"torch-fp32": 1,
                                                                                           "ov-fp32": 1}
    assert set(records[records.metric == "latency_median"].variant) == {"torch-fp32", "ov-fp32"}
    summary = (run / "summary.md").read_text()
    assert "interrupted" not in summary and "## Headline" in summary


def test_resume_refuses_a_complete_run_and_other_options(tmp_path, pytester):
    from bench.run_folder import LiveRun
    complete = tmp_path / "complete"
    complete.mkdir()
    result = pytester.runpytest_inprocess(str(ROOT / "suites"), "--resume", str(complete), "-p", "no:cacheprovider")
    assert result.ret == pytest_usage_error() and "nothing to resume" in result.stderr.str()
    LiveRun.start(tmp_path, "stopped", 4, {"steps": "150", "variants": "torch-fp32,ov-fp32"})
    result = pytester.runpytest_inprocess(str(ROOT / "suites"), "--resume", str(tmp_path / "stopped"),
                                          "--steps", "20", "-p", "no:cacheprovider")
    assert result.ret == pytest_usage_error()
    assert "that run used --steps '150', not '20'" in result.stderr.str()


def pytest_usage_error():
    import pytest
    return pytest.ExitCode.USAGE_ERROR
