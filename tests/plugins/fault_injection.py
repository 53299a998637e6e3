"""A pytest plugin for the regression tests: makes a variant worse on purpose inside a real suite run.

SDOPT_INJECT_SLOWDOWN="ov-fp32=0.2"     every UNet call of ov-fp32 takes 20% longer (it sleeps that long after)
SDOPT_INJECT_SUBSTITUTE="ov-fp32=ov-fp32-noised"   ov-fp32's slot is served by another (damaged) variant
SDOPT_INJECT_LOG=FILE                   one line per injection made, so a test can tell "not applied" apart
                                        from "not detected"
Load with `-p fault_injection` and tests/plugins on PYTHONPATH.
"""
import os
import time


def _pairs(variable: str) -> dict:
    value = os.environ.get(variable, "")
    return dict(item.split("=", 1) for item in value.split(",") if item)


def _log(line: str) -> None:
    if os.environ.get("SDOPT_INJECT_LOG"):
        with open(os.environ["SDOPT_INJECT_LOG"], "a") as log:
            log.write(line + "\n")


def pytest_configure(config):
    slowdowns = {name: float(f) for name, f in _pairs("SDOPT_INJECT_SLOWDOWN").items()}
    substitutes = _pairs("SDOPT_INJECT_SUBSTITUTE")
    if slowdowns:
        import bench.probes.runner
        open_variant = bench.probes.runner.open_variant

        def slowed_open_variant(folder, *args, **kwargs):
            variant = open_variant(folder, *args, **kwargs)
            recipe = variant.manifest["material"]["recipe"]["name"]  # variant.name is the cache entry's
            factor = slowdowns.get(recipe)
            if factor:
                unet = variant.pipe.unet
                forward = unet.forward

                def slow_forward(*a, **k):
                    started = time.perf_counter()
                    result = forward(*a, **k)
                    time.sleep(factor * (time.perf_counter() - started))
                    return result
                unet.forward = slow_forward
                _log(f"slowed {recipe} by {factor}")
            return variant
        bench.probes.runner.open_variant = slowed_open_variant
    if substitutes:
        import sdopt
        build = sdopt.build

        def substituted_build(name, *args, **kwargs):
            if name in substitutes:
                _log(f"served {name} by {substitutes[name]}")
            return build(substitutes.get(name, name), *args, **kwargs)
        sdopt.build = substituted_build
