"""Per-image scores of the run's images, and the paired table in README.md from them.

    python paired.py RUN --write-scores   # once, from RUN/images: writes scores.csv (variant, prompt, all right)
    python paired.py                       # the table, from scores.csv

The images themselves are not kept (16 MB); scores.csv holds what the table needs: every image's all-correct
verdict from bench.probes.adherence.score, keyed by variant and prompt index (seed 0).
"""
import csv
import sys
from pathlib import Path

from scipy.stats import binomtest

HERE = Path(__file__).resolve().parent
KINDS = (("one object", range(201)), ("two objects", range(201, 301)))


def write_scores(run: Path) -> None:
    import numpy as np
    from PIL import Image

    from bench.probes.adherence import score
    from sdopt.shapes import world
    captions = world.benchmark_captions()
    with open(HERE / "scores.csv", "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["variant", "prompt", "all_right"])
        for path in sorted((run / "images").glob("*__20-pndm__p*-s0.png")):
            variant, _, rest = path.name.split("__")
            index = int(rest[1:4])
            image = np.asarray(Image.open(path).convert("RGB"))
            out.writerow([variant, index, int(score(captions[index], image)["all"])])


def table() -> str:
    right = {}
    with open(HERE / "scores.csv") as handle:
        for row in csv.DictReader(handle):
            right[(row["variant"], int(row["prompt"]))] = row["all_right"] == "1"
    variants = sorted({v for v, _ in right} - {"torch-fp32"})
    lines = []
    for kind, prompts in KINDS:
        for variant in variants:
            lost = sum(right[("torch-fp32", i)] and not right[(variant, i)] for i in prompts)
            gained = sum(right[(variant, i)] and not right[("torch-fp32", i)] for i in prompts)
            p = binomtest(lost, lost + gained).pvalue if lost + gained else 1.0
            lines.append(f"| {kind} | `{variant}` | {lost} | {gained} | {p:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if "--write-scores" in sys.argv:
        write_scores(Path(sys.argv[1]))
    print(table())
