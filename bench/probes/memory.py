"""Peak memory of generating with one variant, in a fresh process so nothing else loaded pollutes it.

memory-profiler samples the child's resident set from outside; the child also reports the kernel's
exact high-water mark (VmHWM), which catches spikes shorter than the sampling interval. Not ru_maxrss:
Linux carries it over from the parent through fork and exec, so it would report the test session's size.

The resident set is also split into private memory (anonymous) and file pages, at the end and at their own
peaks (sampled from outside, as the total is): OpenVINO maps the IR's weights from disk (counted as file pages
once read, reclaimable page cache) and keeps its own repacked copy for its kernels (private), so the two parts say
what a peak is made of.
"""
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from memory_profiler import memory_usage

from sdopt.backends import open_variant


def peak_rss(artifact: Path, prompt: str, steps: int, scheduler: str, seed: int, height: int, width: int,
             threads: int | None = None, guidance_scale: float | None = None, interval: float = 0.05,
             timeout: float = 3600) -> dict:
    """{"sampled_mib", "maxrss_mib", "imports_mib", "anon_end_mib", "file_end_mib", "anon_peak_mib",
    "file_peak_mib"} for load + compile + one generation on `threads` threads (imports_mib: the resident set
    before the model is opened; the two peaks each at its own moment, so they may add up to more than the total's)."""
    args = [sys.executable, "-m", "bench.probes.memory", str(artifact), prompt, str(steps), scheduler, str(seed),
            str(height), str(width), str(threads or 0), str(guidance_scale or 0)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parts = _PartsSampler(child.pid, interval)
    parts.start()
    sampled = memory_usage(child, interval=interval, max_usage=True, include_children=False, timeout=timeout)
    out, err = child.communicate()
    parts.join()
    if child.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-5:])
        raise RuntimeError(f"memory probe of {artifact} failed (exit {child.returncode}):\n{tail}")
    report = json.loads(out.strip().splitlines()[-1])
    return {"sampled_mib": float(sampled), **report,
            "anon_peak_mib": parts.peaks["RssAnon"] / 1024, "file_peak_mib": parts.peaks["RssFile"] / 1024}


class _PartsSampler(threading.Thread):
    """The largest private (RssAnon) and file-backed (RssFile) resident set seen in /proc/<pid>/status, polled
    every `interval` seconds until the process is gone (memory-profiler samples the total only)."""

    def __init__(self, pid: int, interval: float):
        super().__init__(daemon=True)
        self.path, self.interval = Path(f"/proc/{pid}/status"), interval
        self.peaks = {"RssAnon": 0, "RssFile": 0}

    def run(self):
        while True:
            try:
                lines = self.path.read_text().splitlines()
            except (FileNotFoundError, ProcessLookupError):
                return
            for line in lines:
                key, _, rest = line.partition(":")
                if key in self.peaks and rest.strip():
                    self.peaks[key] = max(self.peaks[key], int(rest.split()[0]))
            if any(line.startswith("State:") and ("Z" in line.split()[1]) for line in lines):
                return  # exited, not yet reaped
            time.sleep(self.interval)


def _child(artifact, prompt, steps, scheduler, seed, height, width, threads, guidance_scale) -> None:
    # The floor every runtime here stands on: Python with torch and the runtimes imported, before any model. A
    # C++ deployment of GenAI would not carry it.
    imported = process_status().get("VmRSS", 0) / 1024
    variant = open_variant(Path(artifact), int(threads) or None)
    variant.generate(prompt, int(steps), scheduler, int(seed), int(height), int(width), float(guidance_scale) or None)
    status = process_status()
    print(json.dumps({"maxrss_mib": high_water_mark_kib(status) / 1024, "imports_mib": imported,
                      "anon_end_mib": status.get("RssAnon", 0) / 1024, "file_end_mib": status.get("RssFile", 0) / 1024}))


def process_status() -> dict:
    """This process's /proc status lines in kB (empty where there is no /proc)."""
    path = Path("/proc/self/status")
    if not path.exists():
        return {}
    return {key: int(rest.split()[0]) for key, _, rest in (line.partition(":") for line in path.read_text().splitlines())
            if rest.strip().endswith("kB")}


def high_water_mark_kib(status: dict | None = None) -> int:
    status = process_status() if status is None else status
    if "VmHWM" in status:
        return status["VmHWM"]
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


if __name__ == "__main__":
    _child(*sys.argv[1:])
