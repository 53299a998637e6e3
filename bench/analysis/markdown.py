"""The one Markdown table writer of the reports: header and rows of text in, a GitHub table out."""
import sys


def table(header, rows) -> str:
    """`header`: column titles; `rows`: iterables of cells (anything; None is left empty). Pipes inside cells
    are escaped so that a cell never splits a row."""
    def cell(value) -> str:
        return "" if value is None else str(value).replace("|", "\\|")
    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def print_table(command: str, make, refused=(FileNotFoundError, ValueError, KeyError)) -> int:
    """A table command's ending: print the Markdown `make()` returns (exit 0), or a bad input as one line on stderr
    (exit 2)."""
    try:
        print(make(), end="")
    except refused as exc:
        print(f"bench {command}: {exc}", file=sys.stderr)
        return 2
    return 0
