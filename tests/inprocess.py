"""A suite run inside the test's own process (a fresh interpreter spends ~11 s importing the same libraries).

pytester drops every module imported after its fixture was set up, and OpenVINO's native module cannot be
imported twice: optimum-intel's OpenVINO modules are imported here, when a test module importing this one is
collected, so they are loaded before any pytester fixture and stay loaded across in-process runs."""
import optimum.intel.openvino  # noqa: F401


def run_suites(pytester, *args):
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == 0, result.stdout.str()[-3000:] + result.stderr.str()[-3000:]
    return result
