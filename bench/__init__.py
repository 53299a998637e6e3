"""bench: measure variants and report (knows nothing of how a variant was made).

probes/ measure (latency, memory, footprint, per-layer profile, quality, the machine); analysis/ turns records
into reports and comparisons; plugin.py and settings.py run the suites under pytest.
"""
from pathlib import Path

SUITES = Path(__file__).resolve().parents[1] / "suites"
RESULTS = SUITES.parent / "results"  # where a checkout's runs land by default


def run(settings=None, *extra_args: str, suites: Path = SUITES, **options) -> int:
    """Run the suites from Python: `bench.run(model="sd15-arch", steps="3", variants="torch-fp32,ov-fp32")`.
    Options are checked (`Settings.parse`) before pytest starts; returns pytest's exit code."""
    import pytest

    from .settings import Settings
    settings = settings or Settings.parse(**options)
    return int(pytest.main([str(suites), *settings.pytest_args(), *extra_args]))


def __getattr__(name):
    # bench.Settings on first use: the settings import sdopt (and with it diffusers, seconds of imports), which
    # `bench compare`, `bench report` and the nightly scripts never need.
    if name == "Settings":
        from .settings import Settings
        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
