"""Ship a trained shapes model: measure it, record the measurement in its manifest, copy it into the repository.

    bench ship-shapes MODEL_DIR [--run RESULTS_RUN]

MODEL_DIR is what `sdopt train-shapes --out MODEL_DIR` wrote. Without --run, the quality suite runs torch-fp32 at
20 PNDM steps (the bar: at least 90% of the held-out one-object prompts all right) into results/shapes-ship/.
The manifest gets the adherence and the run it came from; the folder then replaces sdopt/shapes/shipped/ and its
hashes are checked again in place. Commit the folder and copy the run under docs/measurements/.
"""
import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

from sdopt.shapes.manifest import record, verify
from sdopt.sources import SHIPPED

from .. import RESULTS, SUITES, run as run_suites


def measure(model: Path) -> Path:
    results = RESULTS / "shapes-ship"
    code = run_suites(None, "-k", "adherence or fidelity or clip", suites=SUITES / "test_quality.py",
                     model=str(model), variants="torch-fp32", steps="20", schedulers="pndm",
                     results_dir=str(results))
    if code != 0:
        sys.exit(f"ship-shapes: the quality suite failed (exit {code})")
    return (results / "latest").resolve()


def adherence_of(run: Path) -> dict:
    records = pd.read_csv(run / "records.csv")
    rows = records[(records.variant == "torch-fp32") & (records.steps == 20)]
    values = dict(zip(rows.metric, rows.value))
    if "adherence" not in values:
        sys.exit(f"ship-shapes: {run} holds no adherence of torch-fp32 at 20 steps")
    wanted = [m for m in values if m.startswith(("adherence", "pair_adherence"))] + ["fid", "kid", "clip_score"]
    return {"variant": "torch-fp32", "steps": 20, "scheduler": "pndm", "run": run.name,
            **{m: values[m] for m in wanted if m in values}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench ship-shapes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--run", type=Path, default=None, help="a results run of this model (default: measure)")
    args = parser.parse_args(argv)
    verify(args.model)
    run = args.run.resolve() if args.run else measure(args.model)
    measured = adherence_of(run)
    record(args.model, "adherence", measured)
    target = SHIPPED["shapes"]
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(args.model, staging)
    verify(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    verify(target)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) / 1e6
    print(f"shipped {args.model} -> {target} ({size:.1f} MB); adherence {measured['adherence']:.1%} "
          f"[{measured['adherence_low']:.1%}-{measured['adherence_high']:.1%}] on {measured['adherence_n']:.0f} "
          f"one-object prompts; run {run}")
    return 0
