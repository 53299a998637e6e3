"""The suites' command line: bad options stop the session with one message and write no results."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("option, message", [
    (["--variants", "ov-fp33"], "unknown variant 'ov-fp33'; valid variants:"),
    (["--schedulers", "heun"], "unknown scheduler 'heun'"),
    (["--steps", "0"], "--steps needs positive integers"),
    (["--resolution", "100"], "not a positive multiple of 8"),
    (["--model", "/nonexistent/model"], "no model_index.json"),
    (["--fid-reference", "/nonexistent/images"], "is not a folder of images"),
    (["--quality-prompts", "0"], "--quality-prompts must be at least 1"),
    (["--rounds", "0"], "--rounds must be at least 1"),
])
def test_bad_suite_option(tmp_path, option, message):
    result = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "suites"), "--collect-only", "-q",
                             "--results-dir", str(tmp_path / "results")] + option,
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and message in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


def test_ids_are_variant_steps_scheduler(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "suites" / "test_latency.py"),
                             "--collect-only", "-q", "--variants", "ov-int8-ptq,torch-fp32", "--steps", "4,20",
                             "--schedulers", "euler", "--results-dir", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT)
    assert "test_latency[ov-int8-ptq-20-euler]" in result.stdout
    assert result.stdout.count("test_latency[") == 4


def test_all_leaves_out_the_control_variants(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "suites" / "test_footprint.py"),
                             "--collect-only", "-q", "--results-dir", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT)
    assert "test_footprint[ov-int8-ptq]" in result.stdout and "noised" not in result.stdout


def test_benchmark_json_into_a_folder_not_yet_made(tmp_path, shared_cache):
    """pytest-benchmark writes --benchmark-json last and fails on a missing folder; the session's records
    must survive that (it once cost an hour-long run)."""
    target = tmp_path / "new" / "deeper" / "benchmark.json"
    result = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "suites" / "test_latency.py"), "-q",
                             "--variants", "ov-fp32", "--steps", "1", "--schedulers", "euler", "--rounds", "1",
                             "--results-dir", str(tmp_path / "results"),
                             "--sdopt-cache", str(shared_cache.root), "--benchmark-json", str(target)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (tmp_path / "results" / "latest" / "records.csv").is_file()
    assert target.is_file() and (tmp_path / "results" / "latest" / "benchmark.json").is_file()


def test_interleave_times_every_variant_once_per_round_and_pools_the_rounds(tmp_path, shared_cache):
    from bench.runs import load_run
    result = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "suites" / "test_latency.py"), "-v",
                             "--variants", "torch-fp32,ov-fp32", "--steps", "1", "--schedulers", "euler",
                             "--rounds", "2", "--interleave", "--results-dir", str(tmp_path / "results"),
                             "--sdopt-cache", str(shared_cache.root),
                             "--benchmark-json", str(tmp_path / "benchmark.json")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ran = [line.split("::")[1].split(" ")[0] for line in result.stdout.splitlines() if " PASSED" in line]
    assert ran == ["test_latency[torch-fp32-1-euler-round0]", "test_latency[ov-fp32-1-euler-round0]",
                   "test_latency[torch-fp32-1-euler-round1]", "test_latency[ov-fp32-1-euler-round1]"]
    run = load_run(tmp_path / "results" / "latest")
    latency = run.records[run.records.metric == "latency_median"]
    assert sorted(latency.variant) == ["ov-fp32", "torch-fp32"]  # one row per case, not one per round
    from_json = load_run(tmp_path / "benchmark.json")
    for variant in ("torch-fp32", "ov-fp32"):
        key = ("tiny", variant, 1, "euler", "128x128", "latency_median")
        assert len(run.samples[key]) == 2 and run.samples[key] == from_json.samples[key]
        recorded = latency[latency.variant == variant].value.item()
        assert recorded == pytest.approx(sorted(run.samples[key])[0] / 2 + sorted(run.samples[key])[1] / 2)
