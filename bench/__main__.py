"""`bench report RUN_FOLDER`: re-render the summary of an earlier run from its records.csv."""
import argparse
import sys
from pathlib import Path

from .report import render_summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="print (and rewrite) a run folder's summary.md")
    report.add_argument("run", type=Path, help="a folder under results/, or results/latest")
    report.add_argument("--no-write", action="store_true", help="print only, leave summary.md as it is")
    args = parser.parse_args(argv)
    try:
        text = render_summary(args.run)
    except FileNotFoundError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    if not args.no_write:
        (args.run / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
