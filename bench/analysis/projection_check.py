"""Check a latency run's projected end to end against a direct generation at that step count.

    bench check-projection RUN --model sd15-arch --resolution 512 [--steps 20] [--variants A,B] [--out FILE]

The latency suite projects each round's generation to 20 and 50 steps from its parts (bench/analysis/
projection.py). A projection is a model of a generation, and what checks the model is a direct generation timed
beside the one projected from, not minutes later on a shared machine whose speed drifts. So each variant is
opened afresh, warmed up at the run's own step count, then timed at the run's step count (projected), at
--steps (direct) and at the run's step count again (projected), in the run's scheduler, seed, guidance and
threads: the direct time is compared with the mean of the two projections around it (the bracket catches
drift inside the check). The run's own projection (median and range over its rounds) is shown beside. Prints
(and with --out writes as CSV) the comparison; exits 1 when a difference exceeds --tolerance.
"""
import argparse
import sys
from pathlib import Path

import pandas as pd

import sdopt
from bench.probes.runner import Runner
from bench.settings import Settings

from .markdown import table
from .projection import projected_seconds
from .runs import read_environment, read_rounds


def projections(run: Path, steps: int):
    """variant -> (scheduler, run steps, [projected seconds per round]) from the run's rounds."""
    rounds = read_rounds(run)
    rows = rounds[rounds.metric == f"latency_projected_{steps}"]
    if rows.empty:
        raise ValueError(f"{run} has no latency_projected_{steps} rounds (a latency run of this version records "
                         f"projections to 20 and 50 steps)")
    found = {}
    for (variant, scheduler, run_steps), group in rows.groupby(["variant", "scheduler", "steps"], sort=False):
        found[variant] = (scheduler, int(run_steps), sorted(group["value"]))
    return found


def bracketed(variant: str, settings, scheduler: str, run_steps: int, steps: int, env: dict) -> tuple:
    """(projections from the two generations at `run_steps` around the direct one, the direct seconds at `steps`)
    after a fresh load and a warm-up generation: the latency suite's prompt and seed, the run's guidance and
    threads."""
    guidance = (env.get("generation") or {}).get("guidance_scale", settings.guidance)
    artifact = sdopt.build(variant, settings.model, settings.resolution, settings.cache)
    runner = Runner(artifact, env.get("threads_used"), guidance)
    height, width = settings.resolution
    call = dict(prompt=settings.prompts[0], scheduler=scheduler, seed=settings.seed, height=height, width=width)
    target_calls = runner.variant.unet_calls(scheduler, steps)
    runner.generate(steps=run_steps, **call)  # warm-up
    projections, direct = [], None
    for role, step_count in (("projected", run_steps), ("direct", steps), ("projected", run_steps)):
        runner.generate(steps=step_count, **call)
        if role == "direct":
            direct = runner.timings.total
        else:
            projections.append(projected_seconds(runner.timings.calls, runner.timings.total, *target_calls,
                                                  runner.timings.step_ends))
    return projections, direct


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench check-projection", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--resolution", default=None)
    parser.add_argument("--steps", type=int, default=20, choices=(20, 50))
    parser.add_argument("--variants", default=None, help="comma-separated (default: every variant of the run)")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    try:
        settings = Settings.parse(model=args.model, resolution=args.resolution)
        found = projections(args.run, args.steps)
        env = read_environment(args.run)
        wanted = sdopt.spec.split(args.variants) if args.variants else list(found)
        missing = [v for v in wanted if v not in found]
        if missing:
            raise ValueError(f"{args.run} has no projections of {', '.join(missing)}; it has {', '.join(found)}")
    except (FileNotFoundError, ValueError, sdopt.BadArgument) as exc:
        print(f"bench check-projection: {exc}", file=sys.stderr)
        return 2
    rows = []
    for variant in wanted:
        scheduler, run_steps, in_run = found[variant]
        around, direct = bracketed(variant, settings, scheduler, run_steps, args.steps, env)
        projected = sum(around) / len(around)
        rows.append({"variant": variant, "scheduler": scheduler, "run_steps": run_steps, "steps": args.steps,
                     "projected_before_s": around[0], "projected_after_s": around[1],
                     "direct_s": direct, "difference": direct / projected - 1,
                     "run_projected_s": in_run[len(in_run) // 2], "run_projected_min_s": in_run[0],
                     "run_projected_max_s": in_run[-1], "run_rounds": len(in_run)})
        print(f"{variant}: projected {around[0]:.2f} / {around[1]:.2f} s, direct {direct:.2f} s "
              f"({direct / projected - 1:+.1%}); the run's projection {in_run[len(in_run) // 2]:.2f} s",
              file=sys.stderr, flush=True)
    frame = pd.DataFrame(rows)
    if args.out:
        frame.to_csv(args.out, index=False)
    print(table(["variant", "projected before / after (s)", "direct (s)", "difference", "the run's projection (s) "
                 "[range over rounds]"],
                [(f"`{r.variant}`", f"{r.projected_before_s:.2f} / {r.projected_after_s:.2f}", f"{r.direct_s:.2f}",
                  f"{r.difference:+.1%}", f"{r.run_projected_s:.2f} [{r.run_projected_min_s:.2f}-"
                  f"{r.run_projected_max_s:.2f}]") for r in frame.itertuples()]), end="")
    return 1 if (frame["difference"].abs() > args.tolerance).any() else 0


if __name__ == "__main__":
    sys.exit(main())
