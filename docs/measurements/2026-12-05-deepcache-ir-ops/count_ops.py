"""Ops of step caching's two IRs for a model: `python count_ops.py [MODEL]` (default tiny), from the repo root."""
import sys
from collections import Counter

import openvino as ov

import sdopt
from sdopt.backends.base import SHALLOW_UNET
from sdopt.ir import IR

folder = sdopt.build("ov-deepcache-fp32", sys.argv[1] if len(sys.argv) > 1 else "tiny")
for graph in ("unet", SHALLOW_UNET):
    ops = Counter(op.get_type_name() for op in ov.Core().read_model(folder / graph / IR).get_ops())
    print(f"{graph}: {sum(ops.values())} ops, {ops['Convolution']} Convolution, {ops['MatMul']} MatMul")
