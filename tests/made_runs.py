"""Results folders made up for tests, shaped like the suites' (records.csv, environment.json, benchmark.json)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.records import COLUMNS

ENV = {"cpu_model": "Test CPU", "isa": ["avx2", "fma"], "logical_cores": 2, "threads_used": 2, "python": "3.11.7",
       "versions": {"openvino": "2026.4.1", "nncf": "3.4.0"}}


def write_run(folder: Path, rounds_s, steps_ms, psnr=30.0, env=ENV, variant="ov-fp32") -> Path:
    """A results folder like the suites write: records.csv, environment.json, benchmark.json."""
    folder.mkdir(parents=True)
    case = dict(model="tiny", variant=variant, steps=8, scheduler="euler", resolution="64x64")
    rows = [{**case, "metric": "latency_median", "value": float(np.median(rounds_s)), "unit": "s"},
            {**case, "metric": "step_median", "value": float(np.median(steps_ms)), "unit": "ms"},
            {**case, "metric": "psnr", "value": psnr, "unit": "dB"},
            {**case, "metric": "first_call", "steps": None, "scheduler": None, "value": 1.0, "unit": "s"},
            {**case, "metric": "footprint_unet", "steps": None, "scheduler": None, "value": 8.6, "unit": "MB"}]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(folder / "records.csv", index=False)
    (folder / "environment.json").write_text(json.dumps(env))
    info = {**case, "samples_ms": {"step_median": list(map(float, steps_ms))}}
    stats = {"data": list(map(float, rounds_s)), "median": float(np.median(rounds_s)), "min": float(min(rounds_s))}
    bench = {"machine_info": {"sdopt_env": env}, "benchmarks": [{"extra_info": info, "stats": stats}]}
    (folder / "benchmark.json").write_text(json.dumps(bench))
    return folder


def timings(seed, scale=1.0, spread=0.02, n=9):
    rng = np.random.default_rng(seed)
    return scale * (1.0 + spread * rng.standard_normal(n)), scale * (10.0 + 0.2 * rng.standard_normal(8 * n))


