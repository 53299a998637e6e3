"""Hooks a plugin of the suites can implement (pluggy, through pytest's plugin manager), so that what a session
builds and opens can be changed without monkeypatching: the regression tests' fault injection
(tests/plugins/fault_injection.py) uses them, and so can a user's own plugin (a remote artifact store, say).
pytest registers only functions named pytest_* as hooks, hence the prefix."""
import pytest

hookspec = pytest.hookspec


@hookspec(firstresult=True)
def pytest_sdopt_artifact(config, name, settings):
    """The artifact folder that serves variant `name` in this session: the first answer that is not None wins.
    bench's own implementation, which runs last, builds it through sdopt's cache."""


@hookspec
def pytest_sdopt_opened(config, name, variant):
    """`variant` (an sdopt Variant) was opened to be measured as `name`, before its compilation and first call;
    an implementation may wrap its calls."""
