"""Projection from 3 steps against generations really run at 21, on tiny (steps take milliseconds there, so a
generation's setup weighs most): the projection that spreads what the parts leave over across the measured
steps, and the one that reads per-step glue between step ends and counts the rest once. 5 interleaved pairs
after a warm-up, as tests/test_projection.py; prints medians and the ratio to the direct time."""
import json
import statistics
import sys

import sdopt
from bench.analysis.projection import projected_seconds
from bench.probes.runner import Runner

results = {}
for name in ("torch-fp32", "ov-deepcache-fp32"):
    runner = Runner(sdopt.build(name, "tiny"), threads=2)
    call = dict(prompt="a red circle", scheduler="euler", seed=0, height=128, width=128)
    target = runner.variant.unet_calls("euler", 21)
    runner.generate(steps=3, **call)
    spread, once, direct = [], [], []
    for _ in range(5):
        runner.generate(steps=3, **call)
        t = runner.timings
        spread.append(projected_seconds(t.calls, t.total, *target))
        once.append(projected_seconds(t.calls, t.total, *target, t.step_ends))
        runner.generate(steps=21, **call)
        direct.append(runner.timings.total)
    d = statistics.median(direct)
    results[name] = {"direct_21_s": d, "setup_spread_s": statistics.median(spread),
                     "setup_once_s": statistics.median(once),
                     "ratio_spread": statistics.median(spread) / d, "ratio_once": statistics.median(once) / d,
                     "direct": direct, "spread": spread, "once": once}
    print(name, {k: round(v, 4) for k, v in results[name].items() if not isinstance(v, list)}, flush=True)
json.dump(results, open(sys.argv[1], "w"), indent=1)
