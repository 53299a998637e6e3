"""Fixtures of the project's own tests: a session cache with the tiny variants, each built once.

`make test` points SDOPT_TEST_CACHE at the variant cache the smoke run uses next, so nothing is built twice."""
import os
from collections.abc import Mapping

import pytest

from explicit_recipes import CONV_ONLY_PTQ

os.environ["HF_HUB_OFFLINE"] = "1"
pytest_plugins = ["pytester"]  # the suites' command line checked in-process (test_suite_options.py)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One cache for the session's tests that need built variants."""
    import sdopt
    root = os.environ.get("SDOPT_TEST_CACHE") or tmp_path_factory.mktemp("sdopt-cache")
    return sdopt.Cache(root)


class TinyArtifacts(Mapping):
    """Every registered variant of the tiny model (and a conv-only PTQ), built on first access: a test that
    needs one variant waits for that one only."""

    def __init__(self, cache):
        import sdopt
        self.cache, self.names, self.built = cache, (*sdopt.REGISTRY, CONV_ONLY_PTQ), {}

    def __getitem__(self, name):
        import sdopt
        if name not in self.names:
            raise KeyError(name)
        if name not in self.built:
            self.built[name] = sdopt.build(name, "tiny", cache=self.cache)
        return self.built[name]

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)


@pytest.fixture(scope="session")
def tiny_artifacts(shared_cache):
    return TinyArtifacts(shared_cache)
