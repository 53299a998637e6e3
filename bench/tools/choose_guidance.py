"""Choose a shapes model's guidance scale on its training prompts, never on the held-out ones the bar uses.

    bench choose-guidance MODEL_DIR [--scales 1.5,2,3,5,7.5] [--out results/guidance]

For each scale the quality suite runs torch-fp32 at 20 PNDM steps on every single-object training prompt and
scores adherence; the table (all correct and per attribute, with 95% intervals) goes to OUT/guidance.md beside
each scale's run folder. The scale to ship is the lowest whose interval overlaps the best scale's: guidance
costs nothing per step, but a higher one is a larger push off the model's learned distribution for no gain
this set can see. sdopt/shapes/model.py holds the chosen value.
"""
import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

from sdopt.backends import check_guidance
from sdopt.shapes.world import caption, training_prompts

from .. import RESULTS, SUITES, run as run_suites
from ..probes.adherence import SINGLE_ATTRIBUTES as ATTRIBUTES


def sweep(model: Path, scales: list[float], out: Path) -> list[dict]:
    prompts = out / "training-prompts.txt"
    prompts.write_text("".join(caption(p) + "\n" for p in training_prompts("single")))
    rows = []
    for scale in scales:
        results = out / f"guidance-{scale:g}"
        code = run_suites(None, "-k", "adherence", suites=SUITES / "test_quality.py", model=str(model),
                         variants="torch-fp32", steps="20", schedulers="pndm", guidance=str(scale),
                         prompts=str(prompts), quality_prompts=10_000, results_dir=str(results))
        if code != 0:
            sys.exit(f"choose-guidance: the quality suite failed at guidance {scale:g} (exit {code})")
        run = (results / "latest").resolve()
        values = pd.read_csv(run / "records.csv").set_index("metric")["value"]
        rows.append({"guidance": scale, "run": str(run.relative_to(out)),
                     **{m: values[m] for m in values.index if m.startswith("adherence")}})
    return rows


def table(rows: list[dict]) -> str:
    header = "| guidance | all correct [95% interval] | " + " | ".join(ATTRIBUTES) + " | n | run |\n"
    header += "|---" * (len(ATTRIBUTES) + 4) + "|\n"
    lines = []
    for r in rows:
        attributes = " | ".join(f"{r.get('adherence_' + a, float('nan')):.1%}" for a in ATTRIBUTES)
        lines.append(f"| {r['guidance']:g} | {r['adherence']:.1%} [{r['adherence_low']:.1%}-"
                     f"{r['adherence_high']:.1%}] | {attributes} | {r['adherence_n']:.0f} | {r['run']} |\n")
    return header + "".join(lines)


def chosen(rows: list[dict]) -> dict:
    best = max(rows, key=lambda r: r["adherence"])
    return min((r for r in rows if r["adherence_high"] >= best["adherence_low"]), key=lambda r: r["guidance"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench choose-guidance", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--scales", default="1.5,2,3,5,7.5")
    parser.add_argument("--out", type=Path, default=RESULTS / "guidance")
    args = parser.parse_args(argv)
    try:
        scales = [float(s) for s in args.scales.split(",") if s.strip()]
    except ValueError:
        sys.exit(f"choose-guidance: --scales needs comma-separated numbers, got {args.scales!r}")
    for scale in scales:
        check_guidance(scale)
    out = args.out.resolve()
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    rows = sweep(args.model, scales, partial)
    pick = chosen(rows)
    text = (f"# Guidance scale of {args.model}\n\ntorch-fp32, 20 PNDM steps, seed 0, every single-object training "
            f"prompt. Chosen: {pick['guidance']:g}, the lowest scale whose interval overlaps the best's.\n\n"
            + table(rows))
    (partial / "guidance.md").write_text(text)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    print(text)
    return 0
