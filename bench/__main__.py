"""bench: re-render a run's report, compare two runs, or tabulate runs (across library versions, runtimes, the
speed frontier, the shapes experiment), and check a run's projections."""
import argparse
import importlib
import sys
from pathlib import Path

from .analysis.compare import compare_runs
from .analysis.report import render_summary
from .analysis.thresholds import load_thresholds
from .analysis.versions import versions_markdown, versions_table
from .run_folder import JOURNAL, MARKER, LiveRun, progress_of

# Commands with their own options, one module each (`bench NAME --help` shows them).
COMMANDS = {"frontier": ("analysis.frontier_table", "speed and memory at full size beside quality on shapes, per "
                                                     "variant"),
            "experiment": ("analysis.experiment_table", "the shapes experiment's table: quality beside speed and size"),
            "runtimes": ("analysis.runtimes_table", "each OpenVINO variant beside its GenAI copy"),
            "check-projection": ("analysis.projection_check", "a run's projected end to end against direct "
                                                               "generations"),
            "choose-guidance": ("tools.choose_guidance", "choose a shapes model's guidance scale on its training "
                                                         "prompts"),
            "ship-shapes": ("tools.ship_shapes", "measure a trained shapes model and ship it into the repository")}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:  # their own parsers read every argument after the name, --help included
        return importlib.import_module(f".{COMMANDS[argv[0]][0]}", __package__).main(argv[1:])
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="print (and rewrite) a run folder's summary.md")
    report.add_argument("run", type=Path, help="a folder under results/, or results/latest")
    report.add_argument("--no-write", action="store_true", help="print only, leave summary.md as it is")
    compare = commands.add_parser(
        "compare", help="compare a run against a baseline; exit 1 on regression",
        description="Each run is a results folder (records.csv, environment.json, benchmark.json) or a "
                    "pytest-benchmark JSON file. Exit status: 0 no regression, 1 regression, 2 bad input.")
    compare.add_argument("baseline", type=Path)
    compare.add_argument("current", type=Path)
    compare.add_argument("--thresholds", type=Path, default=None,
                         help="a TOML file of per-metric limits (default: bench/analysis/thresholds.toml)")
    compare.add_argument("--markdown", type=Path, default=None, help="also write the Markdown summary here")
    compare.add_argument("--csv", type=Path, default=None, help="also write the full comparison table here")
    versions = commands.add_parser("versions", help="one table of runs made under different library versions")
    versions.add_argument("runs", type=Path, nargs="+", help="results folders; the first is the reference")
    versions.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    for name, (_, summary) in COMMANDS.items():  # listed in --help; dispatched above
        commands.add_parser(name, help=summary)
    args = parser.parse_args(argv)
    try:
        return {"report": _report, "compare": _compare, "versions": _versions}[args.command](args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"bench {args.command}: {exc}", file=sys.stderr)
        return 2


def _report(args) -> int:
    if (args.run / JOURNAL).is_file() and not args.no_write:
        LiveRun(args.run).write_tables()  # a killed run's tables may lag its journal by the last test
    text = render_summary(args.run)
    if not args.no_write:
        (args.run / "summary.md").write_text(text)
    print(text)
    return 0


def _compare(args) -> int:
    comparison = compare_runs(args.baseline, args.current, load_thresholds(args.thresholds))
    text = _incomplete_notes(args.baseline, args.current) + comparison.markdown()
    if args.markdown:
        args.markdown.write_text(text)
    if args.csv:
        comparison.table.to_csv(args.csv, index=False)
    print(text)
    return 1 if comparison.regressed else 0


def _incomplete_notes(*runs: Path) -> str:
    """A run stopped before its end compares only what it finished: say so above the table."""
    notes = [f"**{run} is incomplete** ({progress_of(run).sentence()}): only its finished tests are compared.\n\n"
             for run in runs if run.is_dir() and (run / MARKER).is_file()]
    return "".join(notes)


def _versions(args) -> int:
    text = versions_markdown(versions_table(args.runs))
    if args.markdown:
        args.markdown.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
