"""The suites' command line: bad options stop the session with one message and write no results."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bench
import sdopt
from bench.settings import Settings
import inprocess  # noqa: F401  (OpenVINO loaded before pytester's in-process runs: see inprocess.py)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("option, value, message", [
    ("variants", "ov-fp33", "unknown variant 'ov-fp33'; valid variants:"),
    ("schedulers", "heun", "unknown scheduler 'heun'"),
    ("steps", "0", "--steps needs positive integers"),
    ("steps", "four", "--steps needs positive integers"),
    ("resolution", "100", "not a positive multiple of 8"),
    ("model", "/nonexistent/model", "no model_index.json"),
    ("fid_reference", "/nonexistent/images", "is not a folder of images"),
    ("quality_prompts", 0, "--quality-prompts must be at least 1"),
    ("rounds", 0, "--rounds must be at least 1"),
    ("threads", 0, "--threads must be at least 1"),
    ("seeds", "0,x", "--seeds needs comma-separated integers"),
    ("guidance", 1.0, "--guidance: guidance scale must be a finite number above 1"),
    ("guidance", "nan", "--guidance: guidance scale must be a finite number above 1"),
    ("guidance", "strong", "--guidance: guidance scale must be a finite number above 1 for this model"),
    ("no_such_option", 1, "unknown option 'no_such_option'"),
])
def test_bad_suite_option(option, value, message):
    """Every option is checked by Settings.parse, which the plugin calls before anything is collected."""
    with pytest.raises((sdopt.SdoptError, ValueError), match=re.escape(message)):
        Settings.parse(**{option: value})


def collect(pytester, suite: str, *args: str):
    """pytest's own command line on the suites, in this process (a fresh interpreter would spend its time
    importing torch): the options, their checks and the parametrization as a user's run meets them."""
    return pytester.runpytest_inprocess(str(ROOT / "suites" / suite), "--collect-only", "-q", "-p", "no:cacheprovider",
                                        *args)


def test_a_bad_option_is_one_line_naming_the_valid_values(pytester):
    """Checked at configure time, before collection: pytest prints the UsageError alone, no traceback."""
    result = pytester.runpytest_inprocess(str(ROOT / "suites"), "--variants", "nosuch", "-p", "no:cacheprovider")
    lines = [line for line in result.outlines + result.errlines if line.strip()]
    assert result.ret == pytest.ExitCode.USAGE_ERROR and len(lines) == 1, lines
    assert lines[0].startswith("ERROR: unknown variant 'nosuch'; valid variants:") and "torch-fp32" in lines[0]


def entry_point_arguments() -> dict:
    """Each documented entry point's default suite arguments, read from where it keeps them."""
    import configparser
    import shlex

    def make_args(target: str, *make_vars: str) -> list:
        dry = subprocess.run(["make", "-n", target, *make_vars], capture_output=True, text=True, cwd=ROOT,
                             check=True).stdout
        dry = dry.replace("\\\n", " ")  # make -n keeps a recipe's continued lines as written
        line = next(line for line in dry.splitlines() if " -m pytest suites/" in line)
        return shlex.split(line.split(" -m pytest suites/", 1)[1])
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    ov_default = re.search(r"\{posargs:([^}]*)\}", tox["ov"]["commands"]).group(1)
    nightly = subprocess.run([str(ROOT / "scripts" / "nightly-run"), "--dry-run", "ov-2026.0"], capture_output=True,
                             text=True, cwd=ROOT, check=True).stdout
    return {"make bench": make_args("bench"), "make bench-full": make_args("bench-full"),
            "make bench on tiny-sdxl": make_args("bench", "PYTEST_ARGS=--model tiny-sdxl"),
            "make smoke": make_args("smoke"), "tox -e ov-*": shlex.split(ov_default),
            "nightly": shlex.split(nightly.split(" -- ", 1)[1]), "tox -e bench": []}


@pytest.mark.parametrize("entry_point", ["make bench", "make bench-full", "make bench on tiny-sdxl", "make smoke",
                                         "tox -e ov-*", "nightly", "tox -e bench"])
def test_no_entry_point_collects_a_combination_its_variant_refuses(pytester, tmp_path, entry_point):
    """Collected as each entry point runs (its own arguments), every test of a case is one its variant can run:
    the DeepCache variants at 2 steps (interval 3) are left out with their reason, not failed."""
    args = entry_point_arguments()[entry_point]
    if "--benchmark-json" in args:  # pytest-benchmark's, not the suites': the JSON is written at the end only
        at = args.index("--benchmark-json")
        args = args[:at] + args[at + 2:]
    args = [a for a in args if not a.startswith("--benchmark-json=")]
    result = pytester.runpytest_inprocess(str(ROOT / "suites"), "--collect-only", "-q", "-p", "no:cacheprovider",
                                          *args, "--results-dir", str(tmp_path))
    assert result.ret == 0, result.stdout.str()[-2000:] + result.stderr.str()[-2000:]
    cases = re.findall(r"::test_\w+\[(.+)-(\d+)-([a-z0-9+-]+?)(?:-round\d+|-warmup)?\]$", result.stdout.str(), re.M)
    assert cases, result.stdout.str()[-2000:]
    refused = [(variant, steps) for variant, steps, _ in cases if sdopt.get_recipe(variant).refuses(int(steps))]
    assert not refused, refused
    left_out = [line for line in result.stdout.str().splitlines() if "not run:" in line]
    assert len(left_out) == len(set(left_out))  # each once
    for line in left_out:
        if " at 2 steps: " in line:
            assert "cache_interval 3 is above the 2 denoising steps" in line


def test_make_bench_on_another_model_runs_every_variant_that_applies_to_it_on_both_runtimes(pytester, tmp_path):
    args = entry_point_arguments()["make bench on tiny-sdxl"]
    args = [a for a in args if not a.startswith("--benchmark-json") and not a.startswith("results/")]
    result = pytester.runpytest_inprocess(str(ROOT / "suites" / "test_latency.py"), "--collect-only", "-q",
                                          "-p", "no:cacheprovider", *args, "--results-dir", str(tmp_path))
    assert result.ret == 0, result.stdout.str()[-2000:]
    collected = set(re.findall(r"::test_latency\[(.+)-4-euler-round0\]$", result.stdout.str(), re.M))
    model = sdopt.sources.resolve("tiny-sdxl")
    applicable = [v for v in sdopt.REGISTRY if v in Settings.parse(variants="all").variants
                  and sdopt.build_refusal(v, model) is None]
    openvino = [v for v in applicable if sdopt.get_recipe(v).runtime == "openvino"]
    assert {"torch-fp32", "ov-fp32", "ov-int8-ptq", "ov-int8-weights"} <= set(applicable)
    assert collected == set(applicable) | {f"{v}[runtime=genai]" for v in openvino}


def test_a_step_count_a_variant_refuses_is_left_out_once_with_its_reason():
    settings = Settings.parse(variants="torch-fp32,ov-deepcache-fp32", steps="2,3")
    assert [str(c) for c in settings.cases()] == ["torch-fp32-2-pndm", "torch-fp32-3-pndm", "ov-deepcache-fp32-3-pndm"]
    [line] = settings.not_run()
    assert line.startswith("ov-deepcache-fp32 at 2 steps: cache_interval 3 is above the 2 denoising steps")
    assert settings.first_case("ov-deepcache-fp32").steps == 3


@pytest.mark.parametrize("option, message", [(["--steps", "0"], "--steps needs positive integers"),
                                             (["--variants", "ov-fp33"], "valid variants:")])
def test_a_bad_option_stops_the_session_with_its_message_and_writes_nothing(pytester, tmp_path, option, message):
    result = collect(pytester, "", "--results-dir", str(tmp_path / "results"), *option)
    assert result.ret != 0 and message in result.stdout.str() + result.stderr.str()
    assert not (tmp_path / "results").exists()


def test_the_guidance_scale_is_the_models_own_unless_given():
    assert Settings.parse().guidance == 7.5  # tiny: SD's
    settings = Settings.parse(guidance="3.5", steps="2")
    assert settings.guidance == 3.5 and settings.pytest_args() == ["--guidance", "3.5", "--steps", "2"]


def test_settings_hand_back_the_command_line_that_makes_them():
    settings = Settings.parse(variants="torch-fp32,ov-fp32", steps="2,4", rounds=5, interleave=True)
    assert settings.pytest_args() == ["--interleave", "--rounds", "5", "--steps", "2,4",
                                      "--variants", "torch-fp32,ov-fp32"]
    assert [str(case) for case in settings.cases()] == ["torch-fp32-2-pndm", "torch-fp32-4-pndm",
                                                        "ov-fp32-2-pndm", "ov-fp32-4-pndm"]


def test_ids_are_variant_steps_scheduler(pytester, tmp_path):
    result = collect(pytester, "test_latency.py", "--variants", "ov-int8-ptq,torch-fp32", "--steps", "4,20",
                     "--schedulers", "euler", "--results-dir", str(tmp_path))
    assert "test_latency[ov-int8-ptq-20-euler]" in result.stdout.str()
    assert result.stdout.str().count("test_latency[") == 4


def test_all_leaves_out_the_control_variants(pytester, tmp_path):
    result = collect(pytester, "test_footprint.py", "--results-dir", str(tmp_path))
    assert "test_footprint[ov-int8-ptq]" in result.stdout.str() and "noised" not in result.stdout.str()


@pytest.fixture(scope="module")
def interleaved_run(tmp_path_factory, shared_cache):
    """One real run of the latency suite, interleaved, on one thread (the default is all usable cores), its
    benchmark JSON aimed into a folder not yet made."""
    folder = tmp_path_factory.mktemp("interleaved")
    target = folder / "new" / "deeper" / "benchmark.json"
    # The progress display forced on, as on a terminal: its frames go to stderr.
    result = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "suites" / "test_latency.py"), "-v",
                             "--variants", "torch-fp32,ov-fp32", "--steps", "1", "--schedulers", "euler",
                             "--rounds", "2", "--interleave", "--threads", "1", "--guidance", "3.5",
                             "--results-dir", str(folder / "results"),
                             "--sdopt-cache", str(shared_cache.root), "--benchmark-json", str(target)],
                            capture_output=True, text=True, cwd=ROOT, env=os.environ | {"SDOPT_PROGRESS": "on"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {"stdout": result.stdout, "stderr": result.stderr, "results": folder / "results",
            "benchmark_json": target}


def test_the_progress_display_counts_every_test_and_reaches_100_percent_when_the_last_one_ends(interleaved_run):
    """Its frames against the run folder's journal (written by another hook, as each test ends): the count
    climbs one test at a time, and 6/6 (100%) shows only after all six tests are in the journal, once."""
    from bench.run_folder import read_journal
    frames = [f for f in re.split(r"[\r\n]", interleaved_run["stderr"]) if " tests " in f and "%" in f]
    counts = [tuple(map(int, re.search(r"(\d+)/(\d+) tests", f).groups())) for f in frames]
    assert counts and {total for _, total in counts} == {6}, frames
    done = [n for n, _ in counts]
    assert done == sorted(done) and sorted(set(done)) == list(range(7))  # 0, 1, ... 6: every test, in order
    first_full = done.index(6)
    assert all("100%" in f for f in frames[first_full:]) and not any("100%" in f for f in frames[:first_full])
    assert len(read_journal(interleaved_run["results"] / "latest")) == 6
    assert " PASSED" not in interleaved_run["stdout"]  # pytest's per-test lines give way to the display


def test_benchmark_json_into_a_folder_not_yet_made(interleaved_run):
    """pytest-benchmark writes --benchmark-json last and fails on a missing folder; the session's records
    must survive that: at sd15 scale a session is hours of work."""
    assert (interleaved_run["results"] / "latest" / "records.csv").is_file()
    assert interleaved_run["benchmark_json"].is_file()
    assert (interleaved_run["results"] / "latest" / "benchmark.json").is_file()


def test_interleave_times_every_variant_once_per_round_and_pools_the_rounds(interleaved_run):
    from bench.analysis.runs import load_run
    from bench.run_folder import read_journal
    ran = [entry["test"].split("::")[1] for entry in read_journal(interleaved_run["results"] / "latest")]
    assert ran == ["test_latency[torch-fp32-1-euler-warmup]", "test_latency[ov-fp32-1-euler-warmup]",
                   "test_latency[torch-fp32-1-euler-round0]", "test_latency[ov-fp32-1-euler-round0]",
                   "test_latency[torch-fp32-1-euler-round1]", "test_latency[ov-fp32-1-euler-round1]"]
    run = load_run(interleaved_run["results"] / "latest")
    latency = run.records[run.records.metric == "latency_median"]
    assert sorted(latency.variant) == ["ov-fp32", "torch-fp32"]  # one row per case, not one per round
    from_json = load_run(interleaved_run["benchmark_json"])
    for variant in ("torch-fp32", "ov-fp32"):
        key = ("tiny", variant, 1, "euler", "128x128", "latency_median")
        rounds = run.replicates(key)
        assert list(rounds.index) == [0, 1] and list(rounds) == list(from_json.replicates(key))
        assert latency[latency.variant == variant].value.item() == pytest.approx(rounds.median())
        # how far from the machine: the call's work at the session's measured peak, over the measured call
        share, at_peak, call = (run.replicates(key[:-1] + (metric,))
                                for metric in ("unet_peak_share", "unet_at_peak", "unet_call_median"))
        assert list(share) == pytest.approx(list(at_peak / call)) and 0 < share.max() < 1.5
        # every round loaded the variant afresh: a load and a compile time per round
        assert len(run.replicates(("tiny", variant, 1, "euler", "128x128", "load"))) == 2
    environment = run.environment
    assert environment["machine"]["start"]["gemm_gflops"] > 0 and environment["machine"]["end"]["gemm_gflops"] > 0
    assert set(environment["variants"]) == {"torch-fp32", "ov-fp32"}
    assert environment["variants"]["ov-fp32"]["recipe"]["name"] == "ov-fp32"


def test_threads_reach_every_runtime_and_the_fingerprint(interleaved_run):
    from bench.analysis.runs import load_run
    environment = load_run(interleaved_run["results"] / "latest").environment
    assert environment["threads_used"] == 1
    used = environment["variants"]
    assert used["torch-fp32"]["settings"]["torch_threads"] == 1
    assert {used["ov-fp32"]["settings"][c]["INFERENCE_NUM_THREADS"]
            for c in ("text_encoder", "unet", "vae_decoder")} == {1}
    assert "1 threads" in (interleaved_run["results"] / "latest" / "summary.md").read_text()


def test_the_guidance_scale_reaches_the_fingerprint_and_the_summary(interleaved_run):
    from bench.analysis.runs import load_run
    run = interleaved_run["results"] / "latest"
    assert load_run(run).environment["generation"] == {"guidance_scale": 3.5}
    assert "Classifier-free guidance scale 3.5." in (run / "summary.md").read_text()


def test_a_run_starts_from_python_with_the_same_options(tmp_path):
    code = ("import sys, bench; sys.exit(bench.run(None, '--collect-only', '-q', variants='torch-fp32,ov-fp32', "
            f"steps='1,3', schedulers='euler', results_dir={str(tmp_path)!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test_latency[ov-fp32-3-euler]" in result.stdout and result.stdout.count("test_latency[") == 4
    with pytest.raises(sdopt.SdoptError, match="--steps needs positive integers"):
        bench.run(steps="0")  # checked before pytest starts


def test_the_runtimes_axis_runs_each_openvino_variant_on_both_and_names_what_it_leaves_out(pytester, tmp_path):
    result = collect(pytester, "test_latency.py", "--variants", "torch-fp32,ov-int8-ptq,ov-deepcache-fp32",
                     "--runtimes", "openvino,genai", "--steps", "3", "--results-dir", str(tmp_path))
    out = result.stdout.str()
    for case in ("torch-fp32-3-pndm", "ov-int8-ptq-3-pndm", "ov-int8-ptq[runtime=genai]-3-pndm",
                 "ov-deepcache-fp32-3-pndm"):
        assert f"test_latency[{case}]" in out
    assert out.count("test_latency[") == 4
    assert "sdopt-bench: not run: ov-deepcache-fp32[runtime=genai]: ov-deepcache-fp32: step caching" in out
