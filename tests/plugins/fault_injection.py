"""A pytest plugin for the regression tests: makes a variant worse on purpose inside a real suite run, through
the suites' hooks (bench/hookspecs.py).

SDOPT_INJECT_SLOWDOWN="ov-fp32=0.2"     every UNet call of ov-fp32 takes 20% longer (it sleeps that long after)
SDOPT_INJECT_SUBSTITUTE="ov-fp32=ov-fp32-noised"   ov-fp32's slot is served by another (damaged) variant
SDOPT_INJECT_LOG=FILE                   one line per injection made, so a test can tell "not applied" apart
                                        from "not detected"
Load with `-p fault_injection` and tests/plugins on PYTHONPATH.
"""
import os
import time

import pytest


def _pairs(variable: str) -> dict:
    value = os.environ.get(variable, "")
    return dict(item.split("=", 1) for item in value.split(",") if item)


def _log(line: str) -> None:
    if os.environ.get("SDOPT_INJECT_LOG"):
        with open(os.environ["SDOPT_INJECT_LOG"], "a") as log:
            log.write(line + "\n")


@pytest.hookimpl(tryfirst=True)
def pytest_sdopt_artifact(config, name, settings):
    substitute = _pairs("SDOPT_INJECT_SUBSTITUTE").get(name)
    if substitute is None:
        return None
    from bench.plugin import build_for
    _log(f"served {name} by {substitute}")
    return build_for(substitute, settings)


def pytest_sdopt_opened(config, name, variant):
    factor = {key: float(value) for key, value in _pairs("SDOPT_INJECT_SLOWDOWN").items()}.get(name)
    if not factor:
        return
    unet = variant.pipe.unet
    forward = unet.forward

    def slow_forward(*a, **k):
        started = time.perf_counter()
        result = forward(*a, **k)
        time.sleep(factor * (time.perf_counter() - started))
        return result
    unet.forward = slow_forward
    _log(f"slowed {name} by {factor}")
