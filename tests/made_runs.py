"""Results folders made up for tests, shaped like the suites' (records.csv, rounds.csv, environment.json,
benchmark.json), with round-level timings whose truth is known."""
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.records import COLUMNS, ROUND_COLUMNS
from bench.analysis.runs import records_from_rounds

ENV = {"cpu_model": "Test CPU", "isa": ["avx2", "fma"], "logical_cores": 2, "threads_used": 2, "python": "3.11.7",
       "versions": {"openvino": "2026.4.1", "nncf": "3.4.0"},
       "machine": {"start": {"gemm_gflops": 100.0, "conv_gflops": 200.0, "loadavg_1m": 0.1},
                   "end": {"gemm_gflops": 101.0, "conv_gflops": 198.0, "loadavg_1m": 0.2}}}
CASE = dict(model="tiny", steps=8, scheduler="euler", resolution="64x64")


def write_run(folder: Path, rounds_s, psnr=30.0, env=ENV, variant="ov-fp32", control_s=None,
              adherence: tuple | None = None) -> Path:
    """A results folder like the suites write. `rounds_s`: the variant's end-to-end time per round (its step
    time is a tenth of it, in ms); `control_s`: torch-fp32's per round, if the run holds the control."""
    folder.mkdir(parents=True)
    timed = {variant: rounds_s} | ({"torch-fp32": control_s} if control_s is not None else {})
    rounds = []
    for name, seconds in timed.items():
        for index, value in enumerate(seconds):
            rounds.append({**CASE, "variant": name, "round": index, "metric": "latency_median", "value": float(value),
                           "unit": "s"})
            rounds.append({**CASE, "variant": name, "round": index, "metric": "step_median",
                           "value": float(value) * 100, "unit": "ms"})
    rounds = pd.DataFrame(rounds, columns=ROUND_COLUMNS)
    single = [{**CASE, "variant": variant, "metric": "psnr", "value": psnr, "unit": "dB"},
              {**CASE, "variant": variant, "metric": "footprint_unet", "steps": None, "scheduler": None,
               "value": 8.6, "unit": "MB"}]
    if adherence is not None:  # (share right, images): the rate with its Wilson interval, as the suite records
        from bench.probes.adherence import wilson_interval
        rate, images = adherence
        low, high = wilson_interval(round(rate * images), images)
        single += [{**CASE, "variant": variant, "metric": metric, "value": value, "unit": "ratio"}
                   for metric, value in (("adherence", rate), ("adherence_low", low), ("adherence_high", high),
                                         ("adherence_n", images))]
    records = pd.concat([records_from_rounds(rounds), pd.DataFrame(single, columns=COLUMNS)], ignore_index=True)
    records.to_csv(folder / "records.csv", index=False)
    rounds.to_csv(folder / "rounds.csv", index=False)
    (folder / "environment.json").write_text(json.dumps(env))
    benchmarks = []
    for name, seconds in timed.items():
        info = {**CASE, "variant": name, "rounds": [{"round": i, "latency_median": float(v), "step_median": 100 * v}
                                                    for i, v in enumerate(seconds)]}
        benchmarks.append({"extra_info": info, "stats": {"data": list(map(float, seconds))}})
    (folder / "benchmark.json").write_text(json.dumps({"machine_info": {"sdopt_env": env}, "benchmarks": benchmarks}))
    return folder


def timings(seed, scale=1.0, spread=0.02, n=7):
    """n rounds around `scale` seconds with a relative spread."""
    rng = np.random.default_rng(seed)
    return scale * (1.0 + spread * rng.standard_normal(n))
