import sys
from pathlib import Path
import numpy as np
from PIL import Image
from bench.probes.adherence import paired_change
from sdopt.shapes import world
run = Path(sys.argv[1]); caps = world.benchmark_captions()
variants = sorted({p.name.split("__")[0] for p in (run / "images").glob("*.png")})
png = lambda v, i: np.asarray(Image.open(run / "images" / f"{v}__20-pndm__p{i:03d}-s0.png").convert("RGB"))
for kind, idx in (("one object", range(201)), ("two objects", range(201, 301))):
    ref = [png("torch-fp32", i) for i in idx]
    for v in variants:
        if v == "torch-fp32": continue
        c = paired_change([caps[i] for i in idx], ref, [png(v, i) for i in idx])
        print(f"| {kind} | `{v}` | {c['lost']} | {c['gained']} | {c['p']:.3f} |")
