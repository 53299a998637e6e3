"""Statistics on rounds, the replicates of a timing (a round = a fresh load, a warm-up, a timed generation).

Per-call samples within a round share its process, its load and its minute, so they are not independent and
never serve as replicates here. What this module offers: a median with an exact, distribution-free interval;
a test for a shift between two runs' rounds; and a correction for testing many metrics at once.
"""
import math
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_REPLICATES = 5  # below this a median's interval covers less than 94% and a verdict would be a guess
TRIM = 0.2  # the share of rounds left out at each end by the shift test


@dataclass(frozen=True)
class Interval:
    """A median and the order-statistic interval around it, with the coverage that interval really has."""
    median: float
    low: float | None
    high: float | None
    coverage: float | None  # probability that [low, high] holds the true median; None without an interval
    n: int

    @property
    def enough(self) -> bool:
        return self.n >= MIN_REPLICATES

    def describe(self, fmt: str = "{:.2f}", unit: str = "") -> str:
        text = fmt.format(self.median) + unit
        if self.low is None:
            return text + f" (n={self.n}, no interval)"
        text += f" [{fmt.format(self.low)}, {fmt.format(self.high)}] ({self.coverage:.0%}, n={self.n}"
        return text + (")" if self.enough else f"; fewer than {MIN_REPLICATES} rounds)")


def median_interval(values, confidence: float = 0.95) -> Interval:
    """The median and the narrowest interval [x(k), x(n+1-k)] whose coverage, 1 - 2 P(B <= k - 1) with
    B ~ Binomial(n, 1/2), reaches `confidence`. With too few values for that (n < 6 at 95%), [min, max] and the
    lower coverage it has: 94% at n = 5, 88% at 4, 75% at 3, 50% at 2."""
    ordered = sorted(float(v) for v in values)
    n = len(ordered)
    if n == 0:
        raise ValueError("a median needs at least one value")
    middle = statistics.median(ordered)
    if n < 2:
        return Interval(middle, None, None, None, n)
    k = 1
    while k + 1 <= n // 2 and _coverage(k + 1, n) >= confidence:
        k += 1
    return Interval(middle, ordered[k - 1], ordered[n - k], _coverage(k, n), n)


def _coverage(k: int, n: int) -> float:
    return 1 - 2 * float(stats.binom.cdf(k - 1, n, 0.5))


def shift_p_value(baseline, current) -> float | None:
    """Two-sided p-value that `current` rounds are shifted from `baseline` rounds: Yuen's trimmed t-test (Welch's
    on the middle 60% of each side) on log values. Logs, because timings are positive and spread
    multiplicatively; trimmed, because a shared machine now and then slows a whole round (the host took a
    vCPU for seconds), and one such round would otherwise hide any shift; parametric, because with five rounds
    a side a rank test cannot go below p = 0.008, too coarse once many metrics are tested together. Under five
    rounds a side nothing is trimmed. None with under two rounds a side."""
    b, c = np.log(np.asarray(baseline, float)), np.log(np.asarray(current, float))
    if len(b) < 2 or len(c) < 2:
        return None
    if np.ptp(b) == 0 and np.ptp(c) == 0:  # no spread at all: the shift is either certain or absent
        return 1.0 if b.mean() == c.mean() else 0.0
    p = float(stats.ttest_ind(c, b, equal_var=False, trim=TRIM).pvalue)
    return 1.0 if math.isnan(p) else p


def adjust(p_values: list, method: str) -> list:
    """p-values adjusted for testing them together: "holm" (family-wise error) or "bh" (Benjamini-Hochberg,
    false discovery rate). None entries (no test) stay None and do not count."""
    tested = [(i, p) for i, p in enumerate(p_values) if p is not None]
    adjusted = list(p_values)
    if not tested:
        return adjusted
    values = np.array([p for _, p in tested])
    if method == "bh":
        corrected = stats.false_discovery_control(values, method="bh")
    elif method == "holm":
        order = np.argsort(values)
        m = len(values)
        running, corrected = 0.0, np.empty(m)
        for rank, index in enumerate(order):
            running = max(running, min(1.0, (m - rank) * values[index]))
            corrected[index] = running
    else:
        raise ValueError(f"unknown multiplicity correction {method!r}: use holm or bh")
    for (i, _), p in zip(tested, corrected):
        adjusted[i] = float(p)
    return adjusted
