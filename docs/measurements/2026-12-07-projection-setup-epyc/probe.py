"""Projection to 21 steps against generations really run at 21, on tiny (steps take milliseconds there, so a
generation's setup and its first, slower UNet call weigh most): the formula of commit 391538b (what the parts
leave over spread across the measured steps, every full call at the median full call) against today's
(`bench/analysis/projection.py`: per-step glue read between step ends, the rest once, the first call once).
As tests/test_projection.py: torch-fp32 from 3 steps, ov-deepcache-fp32 from 6 (two caching cycles); 5
interleaved pairs after a warm-up. Prints medians and the ratio to the direct time; writes all values as JSON."""
import json
import statistics
import sys

import sdopt
from bench.analysis.projection import FIXED_PARTS, projected_seconds
from bench.probes.runner import Runner


def before(calls, total, unet_calls, full_calls):
    """The formula of commit 391538b, restated for the comparison."""
    measured, shallow = len(calls["scheduler_step"]), calls.get("unet_shallow")
    parts = sum(sum(seconds) for seconds in calls.values())
    fixed = sum(sum(calls.get(name, ())) for name in FIXED_PARTS)
    per_call = statistics.median(calls["scheduler_step"]) + (total - parts) / measured
    return (fixed + full_calls * statistics.median(calls["unet"]) +
            (unet_calls - full_calls) * (statistics.median(shallow) if shallow else 0.0) + unet_calls * per_call)


results = {}
for name, steps in (("torch-fp32", 3), ("ov-deepcache-fp32", 6), ("ov-deepcache-fp32", 3)):
    runner = Runner(sdopt.build(name, "tiny"), threads=2)
    call = dict(prompt="a red circle", scheduler="euler", seed=0, height=128, width=128)
    target = runner.variant.unet_calls("euler", 21)
    runner.generate(steps=steps, **call)
    old, new, direct = [], [], []
    for _ in range(5):
        runner.generate(steps=steps, **call)
        t = runner.timings
        old.append(before(t.calls, t.total, *target))
        new.append(projected_seconds(t.calls, t.total, *target, t.step_ends))
        runner.generate(steps=21, **call)
        direct.append(runner.timings.total)
    d = statistics.median(direct)
    key = f"{name} from {steps}"
    results[key] = {"direct_21_s": d, "before_s": statistics.median(old), "now_s": statistics.median(new),
                    "ratio_before": statistics.median(old) / d, "ratio_now": statistics.median(new) / d,
                    "direct": direct, "before": old, "now": new}
    print(key, {k: round(v, 4) for k, v in results[key].items() if not isinstance(v, list)}, flush=True)
json.dump(results, open(sys.argv[1], "w"), indent=1)
