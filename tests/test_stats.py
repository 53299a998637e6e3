"""Round statistics: exact intervals of a median, the shift test, and the corrections for many tests at once."""
import numpy as np
import pytest

from bench.analysis.stats import adjust, median_interval, shift_p_value


@pytest.mark.parametrize("n, coverage", [(2, 0.5), (3, 0.75), (4, 0.875), (5, 0.9375), (6, 0.96875)])
def test_few_rounds_give_min_to_max_and_say_how_much_it_covers(n, coverage):
    found = median_interval(range(1, n + 1))
    assert (found.low, found.high, found.n) == (1, n, n) and found.coverage == pytest.approx(coverage)
    assert found.enough == (n >= 5)


def test_more_rounds_give_the_narrowest_interval_that_still_covers_95_percent():
    found = median_interval(range(1, 21))
    assert (found.low, found.high) == (6, 15) and found.coverage >= 0.95
    assert median_interval(range(1, 21), confidence=0.99).low < 6
    assert median_interval([3.0]).low is None and "no interval" in median_interval([3.0]).describe()


def test_the_interval_covers_the_true_median_as_often_as_it_says():
    rng = np.random.default_rng(0)
    found = [median_interval(rng.lognormal(0, 0.3, 9)) for _ in range(2000)]  # the true median is 1
    hit_rate = np.mean([f.low <= 1.0 <= f.high for f in found])
    assert abs(hit_rate - found[0].coverage) < 0.02, (hit_rate, found[0].coverage)


def test_the_shift_test_finds_a_clear_shift_and_not_noise():
    rng = np.random.default_rng(1)
    base = 1.0 + 0.02 * rng.standard_normal(7)
    assert shift_p_value(base, 1.15 * (1.0 + 0.02 * rng.standard_normal(7))) < 1e-4
    assert shift_p_value(base, 1.0 + 0.02 * rng.standard_normal(7)) > 0.01


def test_one_slowed_round_does_not_hide_a_shift():
    """A round the host slowed (a vCPU taken for seconds) in the baseline: Welch's test loses a 15% shift behind
    it, the trimmed test does not."""
    from scipy import stats
    base, slower = [1.0, 1.01, 0.99, 1.6, 1.0], [1.15, 1.16, 1.14, 1.15, 1.17]
    assert shift_p_value(base, slower) < 0.01
    assert stats.ttest_ind(np.log(slower), np.log(base), equal_var=False).pvalue > 0.05
    assert shift_p_value([1.0], [2.0, 2.1]) is None
    assert shift_p_value([1.0, 1.0], [1.0, 1.0]) == 1.0 and shift_p_value([1.0, 1.0], [2.0, 2.0]) == 0.0


def test_holm_and_benjamini_hochberg_against_hand_computed_values():
    raw = [0.01, 0.04, None, 0.03, 0.5]
    # Holm: sorted 0.01, 0.03, 0.04, 0.5 times 4, 3, 2, 1, made monotone
    assert adjust(raw, "holm") == pytest.approx([0.04, 0.09, None, 0.09, 0.5])
    # BH: p * m / rank, made monotone from the top: 0.04, 0.04*4/3, 0.03*4/2, 0.5
    assert adjust(raw, "bh") == pytest.approx([0.04, 0.04 * 4 / 3, None, 0.04 * 4 / 3, 0.5])
    assert adjust([None, None], "bh") == [None, None]
    with pytest.raises(ValueError, match="holm or bh"):
        adjust([0.1], "bonferroni")
