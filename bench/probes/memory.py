"""Peak memory of generating with one variant, in a fresh process so nothing else loaded pollutes it.

memory-profiler samples the child's resident set from outside; the child also reports the kernel's
exact high-water mark (VmHWM), which catches spikes shorter than the sampling interval. Not ru_maxrss:
Linux carries it over from the parent through fork and exec, so it would report the test session's size.
"""
import json
import resource
import subprocess
import sys
from pathlib import Path

from memory_profiler import memory_usage

from sdopt.backends import SD_GUIDANCE


def peak_rss(artifact: Path, prompt: str, steps: int, scheduler: str, seed: int, height: int, width: int,
             threads: int | None = None, guidance_scale: float = SD_GUIDANCE, interval: float = 0.05,
             timeout: float = 3600) -> dict:
    """{"sampled_mib": ..., "maxrss_mib": ...} for load + compile + one generation on `threads` threads."""
    args = [sys.executable, "-m", "bench.probes.memory", str(artifact), prompt, str(steps), scheduler, str(seed),
            str(height), str(width), str(threads or 0), str(guidance_scale)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampled = memory_usage(child, interval=interval, max_usage=True, include_children=False, timeout=timeout)
    out, err = child.communicate()
    if child.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-5:])
        raise RuntimeError(f"memory probe of {artifact} failed (exit {child.returncode}):\n{tail}")
    report = json.loads(out.strip().splitlines()[-1])
    return {"sampled_mib": float(sampled), "maxrss_mib": report["maxrss_mib"]}


def _child(artifact, prompt, steps, scheduler, seed, height, width, threads, guidance_scale) -> None:
    from sdopt.backends import open_variant
    variant = open_variant(Path(artifact), int(threads) or None)
    variant.generate(prompt, int(steps), scheduler, int(seed), int(height), int(width), float(guidance_scale))
    print(json.dumps({"maxrss_mib": high_water_mark_kib() / 1024}))


def high_water_mark_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


if __name__ == "__main__":
    _child(*sys.argv[1:])
