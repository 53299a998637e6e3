"""Paired ratios from one interleaved run's rounds.csv: for each (a, b), a's per-round value over b's, paired by
round, median with its order-statistic interval (bench/analysis/stats.py). Usage: pairs.py RUN_FOLDER"""
import sys

import pandas as pd

from bench.analysis.stats import median_interval

rounds = pd.read_csv(f"{sys.argv[1]}/rounds.csv")
PAIRS = [("ov-int8-ptq", "ov-tome-int8-ptq"), ("ov-int8-ptq", "ov-todo-int8-ptq"),
         ("ov-tome-int8-ptq", "ov-tome-int8-ptq[runtime=genai]"), ("ov-todo-int8-ptq", "ov-todo-int8-ptq[runtime=genai]")]
for metric in ("latency_median", "unet_call_median", "latency_projected_20"):
    table = rounds[rounds.metric == metric].pivot_table(index="round", columns="variant", values="value")
    for a, b in PAIRS:
        both = table[[a, b]].dropna()
        print(f"{metric}: {a} over {b}: {median_interval(both[a] / both[b]).describe('{:.2f}', 'x')} (n={len(both)})")
