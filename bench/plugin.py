"""bench as a pytest plugin: the suites' options, parametrization and session fixtures, and the run folder
written as each test finishes (bench/run_folder.py). The root conftest.py only names this module.

Variants are built lazily, once per session, through sdopt's cache; the probes measure them; the records of
every suite land in one run folder under results/, marked incomplete until every test has run.
"""
import gc
import os
import shutil
import signal
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest

import sdopt
from sdopt import progress
from sdopt.backends import capture_unet_inputs, open_variant
from sdopt.heap import freeze_what_is_loaded
from sdopt.sources import safe_name

from . import hookspecs
from .analysis.report import new_run_id
from .analysis.runs import read_environment
from .conventions import REFERENCE
from .metrics import unit_of
from .probes.env import fingerprint, machine_state
from .probes.peak import machine_peak as measure_peak
from .probes.unet_work import compute_precision
from .probes.runner import Runner
from .progress_display import SessionProgress, wanted
from .run_folder import LiveRun, progress_of, read_marker
from .session import BenchSession, keep, session_of
from .settings import OPTIONS, Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait on a network that is not there

DISPLAY = "sdopt-bench-progress"  # the session's progress bar, registered on a terminal only
MEASURING = {"record", "record_round", "run_extras", "generations"}  # fixtures a suite test records through


def pytest_addhooks(pluginmanager):
    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(trylast=True)
def pytest_sdopt_artifact(config, name, settings):
    """What serves a variant unless another plugin says otherwise: its build, through sdopt's cache."""
    return build_for(name, settings)


def build_for(name: str, settings: Settings):
    """Variant `name` built (or found) for the session's model, resolution and cache."""
    return sdopt.build(name, settings.model, settings.resolution, settings.cache, rebuild=settings.rebuild)


def pytest_addoption(parser):
    group = parser.getgroup("sdopt-bench")
    for option in OPTIONS:
        if option.flag:
            group.addoption(option.command_line, action="store_true", help=option.help)
        else:
            group.addoption(option.command_line, type=option.type, default=option.default, help=option.help)
    group.addoption("--resume", default=None, metavar="RUN",
                    help="continue an interrupted run folder (a path, or a run id under --results-dir): its own "
                         "options, only the tests its journal lacks")


def settings_of(config) -> Settings:
    """The session's settings, parsed on first use (which makes the session's BenchSession); bad values stop the
    session with one clear message."""
    if session_of(config) is None:
        given = {option.name: getattr(config.option, option.name) for option in OPTIONS}
        resumed = None
        if config.getoption("resume", None):
            given, resumed = _resumed_options(config, given)
        try:
            keep(config, BenchSession(Settings.parse(**given), resumed))
        except (sdopt.SdoptError, ValueError) as exc:
            raise pytest.UsageError(str(exc)) from None
    return session_of(config).settings


def _resumed_options(config, given: dict) -> tuple[dict, Path]:
    """The options of the run --resume continues, and its folder; an option given here that differs from them
    is refused."""
    value = config.getoption("resume")
    folder = Path(value)
    if not folder.is_dir():
        folder = Path(given["results_dir"]) / value
    marker = read_marker(folder) if folder.is_dir() else None
    if marker is None:
        why = "is not a folder" if not folder.is_dir() else "is complete (no INCOMPLETE marker): nothing to resume"
        raise pytest.UsageError(f"--resume {value}: {folder} {why}")
    stored = {name: marker["options"].get(name, option.default) for name, option in
              ((o.name, o) for o in OPTIONS)}
    for option in OPTIONS:
        if given[option.name] != option.default and given[option.name] != stored[option.name]:
            raise pytest.UsageError(f"--resume {value}: that run used {option.command_line} "
                                    f"{stored[option.name]!r}, not {given[option.name]!r}; leave the option out "
                                    f"to continue it, or start a new run")
    return stored | {"results_dir": str(folder.parent)}, folder


def pytest_configure(config):
    """Check every suite option now: a bad one stops pytest with one line (a UsageError raised here is printed
    as `ERROR: <message>`; raised during collection it would come wrapped in a traceback per suite file)."""
    settings_of(config)
    session = session_of(config)
    if not config.option.collectonly:
        _stop_cleanly_on_sigterm()
        config.pluginmanager.register(Journal(config), "sdopt-bench-journal")
        if wanted(config):
            config.pluginmanager.register(SessionProgress(config), DISPLAY)
    if session.resumed is not None:  # what the interrupted session's variants used stays in environment.json
        session.variants_used = read_environment(session.resumed).get("variants", {})
    # pytest-benchmark opens --benchmark-json only at the very end and fails on a missing folder, which
    # would lose the whole session's records: create the folder now.
    benchmark_json = config.getoption("benchmark_json", None)
    if benchmark_json and not config.option.collectonly:
        Path(benchmark_json).parent.mkdir(parents=True, exist_ok=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into what Ctrl-C raises, so pytest ends the session the same orderly way."""


def _stop_cleanly_on_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def terminate(signum, frame):
        raise Terminated(f"signal {signum}")
    signal.signal(signal.SIGTERM, terminate)


def pytest_collection_finish(session):
    """What the options asked for that a variant refuses (a runtime, a step count), each once with the
    variant's reason, before anything runs (in -q output too); then the run folder, marked incomplete."""
    config = session.config
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if reporter:
        for line in settings_of(config).not_run():
            reporter.write_line(f"sdopt-bench: not run: {line}")
    bench_session = session_of(config)
    resumed = bench_session.resumed
    measuring = any(MEASURING & set(getattr(item, "fixturenames", ())) for item in session.items)
    if config.option.collectonly or not (measuring or resumed):  # e.g. the project's own tests: no run folder
        return
    settings = settings_of(config)
    options = dict(settings.options)
    if resumed is not None:
        done = LiveRun(resumed).finished_tests()
        live = LiveRun.resume(resumed, len(done | {item.nodeid for item in session.items}), options)
        if reporter:
            reporter.write_line(f"sdopt-bench: resuming {resumed}: {len(done)} tests done, {len(session.items)} to "
                                f"run")
    else:
        live = LiveRun.start(settings.results_dir, new_run_id(), len(session.items), options)
    bench_session.live = live
    live.write_environment(_environment(config, final=False))
    bench_session.extras.live = live


class Journal:
    """Registered for sessions that run tests: --resume's deselection, and each finished test's records into
    the run folder's journal."""

    def __init__(self, config):
        self.config = config
        self.outcomes = {}  # node id -> [worst outcome of its phases, seconds]

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        """--resume: leave out the tests the run's journal already holds (deselected, as -k would)."""
        folder = session_of(self.config).resumed
        if folder is None:
            return
        # --interleave's warm-up pass records nothing and runs again: the one-time costs of a fresh process
        # (thread pools, page cache) must not land in the first round timed after the resume.
        done = {nodeid for nodeid in LiveRun(folder).finished_tests() if not nodeid.endswith("-warmup]")}
        deselected = [item for item in items if item.nodeid in done]
        if deselected:
            self.config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if item.nodeid not in done]

    def pytest_runtest_logreport(self, report):
        found = self.outcomes.setdefault(report.nodeid, ["passed", 0.0])
        if report.outcome != "passed" and found[0] != "failed":
            found[0] = report.outcome
        found[1] += report.duration

    def pytest_runtest_logfinish(self, nodeid):
        """The test is over, teardown too: its records and rounds go into the run folder's journal now."""
        session = session_of(self.config)
        if session.live is None:
            return
        live = session.live
        outcome, seconds = self.outcomes.pop(nodeid, ("passed", 0.0))
        records, rounds = session.recorder.take()
        live.add_test(nodeid, outcome, seconds, records, rounds)


def pytest_generate_tests(metafunc):
    if not {"case", "variant_name", "first_case"} & set(metafunc.fixturenames):
        return
    s = settings_of(metafunc.config)
    if "first_case" in metafunc.fixturenames:  # per variant, at the first step count it runs at
        cases = [c for c in map(s.first_case, s.variants) if c is not None]
        metafunc.parametrize("first_case", cases, ids=[c.variant for c in cases])
    elif "case" in metafunc.fixturenames:
        metafunc.parametrize("case", s.cases(), ids=str)
        if "latency_round" in metafunc.fixturenames and s.interleave:
            # round -1: one unrecorded pass over every case before any is timed (see suites/test_latency.py)
            metafunc.parametrize("latency_round", range(-1, s.rounds), ids=lambda r: f"round{r}" if r >= 0 else "warmup")
    else:
        metafunc.parametrize("variant_name", s.variants)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """--interleave: all warm-ups, then all first rounds, then all second rounds...; the stable sort keeps
    everything else in place."""
    def round_of(item):
        callspec = getattr(item, "callspec", None)
        return callspec.params.get("latency_round", 0) if callspec else 0
    items.sort(key=round_of)


@pytest.fixture
def latency_round():
    """Which round of its case a latency test times; None (all rounds at once) unless --interleave."""
    return None


@pytest.fixture(scope="session")
def settings(request) -> Settings:
    return settings_of(request.config)


def _terminal_printer(config):
    """Print immediately, even while pytest captures output, so long builds are never silent."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    display = config.pluginmanager.getplugin(DISPLAY)

    def write(line: str) -> None:
        with capture.global_and_fixture_disabled():
            if display is not None:
                display.write(line)
            elif reporter:
                reporter.write_line(line)
            else:
                print(line, flush=True)
    return write


@pytest.fixture(scope="session")
def artifact_for(request, settings):
    """variant name -> artifact folder, built (or found in the cache) on first request."""
    session = session_of(request.config)
    built = session.built

    def get(name: str) -> Path:
        if name not in built:
            previous = progress.set_sink(_terminal_printer(request.config))
            try:
                progress.say(f"variant {name} for {settings.model} at {settings.resolution_label}: build or reuse "
                             f"(cache {settings.cache.root})")
                built[name] = request.config.hook.pytest_sdopt_artifact(config=request.config, name=name,
                                                                        settings=settings)
                if built[name] is None:
                    raise RuntimeError(f"no plugin made an artifact for {name} (pytest_sdopt_artifact)")
                log = built[name] / "training_log.csv"
                if log.is_file():  # QAT variants: the loss curve goes into the report
                    session.extras[f"training/{safe_name(name)}.csv"] = log
            finally:
                progress.set_sink(previous)
        return built[name]
    return get


def release(loaded: dict) -> None:
    """Drop loaded pipelines now: optimum's OpenVINO parts point back at their pipeline, so without a
    collection these cycles (GBs at real scale) outlive their test and the session runs out of memory."""
    loaded.clear()
    gc.collect()


@pytest.fixture(scope="session")
def open_for_profile(request, settings, artifact_for):
    """variant name -> a context manager yielding that variant opened with per-layer counters on, released
    on exit: counters cost time, so the latency runners never have them."""
    @contextmanager
    def opened(name: str):
        loaded = {"variant": open_variant(artifact_for(name), settings.threads, perf_counters=True, compile=False)}
        request.config.hook.pytest_sdopt_opened(config=request.config, name=name, variant=loaded["variant"])
        loaded["variant"].compile()
        try:
            yield loaded["variant"]
        finally:
            release(loaded)
    return opened


@pytest.fixture(scope="session")
def runner_for(request, artifact_for, settings):
    """(variant name, fresh=False) -> a loaded, compiled Runner, one at a time to bound memory; the latency
    suite asks for a fresh one every round. What each variant's runtime really uses (read back) and its
    resolved recipe go into the run's environment.json."""
    current, used = {}, session_of(request.config).variants_used
    # Compiled models go while the runtimes' modules are whole, also when a session is interrupted, rather than
    # at interpreter exit, where native objects are torn down in no set order.
    request.addfinalizer(lambda: release(current))

    def get(name: str, fresh: bool = False):
        if fresh or name not in current:
            release(current)
            opened = lambda variant: request.config.hook.pytest_sdopt_opened(config=request.config, name=name,
                                                                            variant=variant)
            runner = current[name] = Runner(artifact_for(name), settings.threads, settings.guidance, opened)
            used[name] = {"settings": runner.variant.settings_in_force(),
                          "recipe": runner.variant.manifest["material"]["recipe"],
                          "unet_compute_precision": compute_precision(runner.variant)}
        return current[name]
    # The memory suite drops the loaded variant first: at SDXL size (14 GB) the session's copy would make the
    # kernel reclaim the probe's mapped weights, and its peak would read low.
    get.release = lambda: release(current)
    return get


@pytest.fixture(scope="session")
def machine_peak(request, settings) -> dict:
    """The machine's GEMM peak per precision, measured once, before the session's first timed round, and kept
    with the machine's state at the start (a session that times nothing does not spend the seconds)."""
    session = session_of(request.config)
    start = session.machine_start if session is not None else None
    if start is None:
        return measure_peak(settings.threads)
    if "peak" not in start:
        start["peak"] = measure_peak(settings.threads)
    return start["peak"]


@pytest.fixture(scope="session")
def record(request, settings):
    """record(variant, steps, scheduler, metric, value): one tidy row in this run's records, in the metric's unit
    (bench/metrics.py; a metric with no row there is refused)."""
    recorder = session_of(request.config).recorder

    def add(variant, steps, scheduler, metric, value):
        recorder.add(model=settings.model, variant=variant, steps=steps, scheduler=scheduler,
                     resolution=settings.resolution_label, metric=metric, value=float(value), unit=unit_of(metric))
    return add


@pytest.fixture(scope="session")
def record_round(request, settings):
    """record_round(case, round, metric, value): one round-level value (the unit follows from the metric); the
    run's records of such metrics are derived from these at the session's end."""
    recorder = session_of(request.config).recorder

    def add(case, round_index, metric, value):
        recorder.add_round(round_index, model=settings.model, variant=case.variant, steps=case.steps,
                           scheduler=case.scheduler, resolution=settings.resolution_label, metric=metric,
                           value=float(value), unit=unit_of(metric))
    return add


@pytest.fixture(scope="session")
def generations(request, runner_for, settings, tmp_path_factory):
    """(variant, steps, scheduler) -> the quality suite's images and final latents, made once per session.

    Every image is saved for the run folder's images/ (and grids), named so the report can pair them."""
    made, reference_calls = {}, {}
    live = session_of(request.config).live
    image_dir = live.folder / "images" if live else tmp_path_factory.mktemp("images")
    image_dir.mkdir(exist_ok=True)

    def get(variant: str, steps: int, scheduler: str):
        key = (variant, steps, scheduler)
        if key not in made:
            runner, height, width = runner_for(variant), *settings.resolution
            results = []
            # The reference's UNet calls are kept: other variants' UNets replay them (teacher forcing).
            capture = capture_unet_inputs(runner.variant, outputs=True) if variant == REFERENCE else nullcontext([])
            with capture as calls:
                for p_index, prompt in enumerate(settings.quality_prompts):
                    for seed in settings.seeds:
                        out = runner.generate(prompt, steps, scheduler, seed, height, width)
                        save_image(out.images[0], image_dir / f"{variant}__{steps}-{scheduler}__p{p_index:03d}-s{seed}.png")
                        results.append((prompt, seed, out.images[0], out.latents))
            if variant == REFERENCE:
                reference_calls[(steps, scheduler)] = calls
            made[key] = results
        return made[key]

    def unet_calls(steps: int, scheduler: str) -> list:
        """The reference's UNet calls (inputs and prediction) while it made the quality images."""
        get(REFERENCE, steps, scheduler)
        return reference_calls[(steps, scheduler)]
    get.reference_unet_calls = unet_calls
    return get


def save_image(image, path: Path) -> None:
    """Staged and renamed, so an interrupted run keeps whole images only."""
    staged = path.with_name(f".{path.name}.partial")
    image.save(staged, format="PNG")
    os.replace(staged, path)


@pytest.fixture(scope="session")
def run_extras(request) -> dict:
    """Files to write into the run folder besides the records (name -> DataFrame, text or Path)."""
    return session_of(request.config).extras


def pytest_sessionstart(session):
    config = session.config
    freeze_what_is_loaded()  # before any variant is loaded: every collection after a release is then cheap
    if not config.option.collectonly and session_of(config) is not None:
        session_of(config).machine_start = machine_state(config.option.threads)


def _environment(config, final: bool = True) -> dict:
    """The fingerprint, the machine at start and end (final), and what each variant's runtime used."""
    session = session_of(config)
    if final and session.machine_end is None:
        session.machine_end = machine_state(config.option.threads)
    generation = {"guidance_scale": session.settings.guidance}
    return fingerprint(config.option.threads) | {
        "generation": generation, "machine": {"start": session.machine_start, "end": session.machine_end},
        "variants": session.variants_used}


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["sdopt_env"] = _environment(config)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """Finish the run folder once pytest-benchmark has written its JSON (its hook wraps this one): complete when
    every collected test ran, else left marked incomplete, with a summary that says so."""
    config = session.config
    live = session_of(config).live if session_of(config) is not None else None
    if live is None:
        return
    benchmark_json = config.getoption("benchmark_json", None)
    if benchmark_json and Path(benchmark_json).is_file():
        live.write_extra("benchmark.json", Path(benchmark_json))
    live.write_environment(_environment(config))
    found = progress_of(live.folder)
    complete = found.done >= (found.total or 0) and exitstatus != pytest.ExitCode.INTERRUPTED
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if complete and live.is_empty() and session_of(config).resumed is None:
        shutil.rmtree(live.folder)  # nothing was measured: no folder, as before anything ran
        return
    live.finish(complete)
    if reporter:
        if complete:
            reporter.write_line(f"sdopt-bench: report written to {live.folder}/summary.md")
        else:
            reporter.write_line(f"sdopt-bench: run {found.sentence()}; its records so far are in {live.folder} "
                                f"(marked INCOMPLETE); continue it with: pytest suites/ --resume {live.folder}")
