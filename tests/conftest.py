"""Fixtures of the project's own tests: a session cache with the tiny variants, built once."""
import os

import pytest

from explicit_recipes import CONV_ONLY_PTQ

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    """One cache for the session's tests that need built variants (tiny builds take seconds)."""
    import sdopt
    root = os.environ.get("SDOPT_TEST_CACHE") or tmp_path_factory.mktemp("sdopt-cache")
    return sdopt.Cache(root)


@pytest.fixture(scope="session")
def tiny_artifacts(shared_cache):
    import sdopt
    return {name: sdopt.build(name, "tiny", cache=shared_cache) for name in (*sdopt.REGISTRY, CONV_ONLY_PTQ)}
