"""The verdict rules of the results page, against hand-worked cases and scipy."""

import numpy as np
import pytest
import scipy.stats

from dat_tf.experiments import verdicts


@pytest.mark.parametrize(
    "method, baseline, lower, expected",
    [
        # means 1.1 vs 2.1, stds 0.1 + 0.1 = 0.2 < 1.0 -> better
        ([1.0, 1.2], [2.0, 2.2], True, "better"),
        ([2.0, 2.2], [1.0, 1.2], True, "worse"),
        # means 1.5 vs 1.6, stds 0.5 + 0.4 = 0.9 > 0.1 -> tie
        ([1.0, 2.0], [1.2, 2.0], True, "tie"),
        # higher is better (modes, K)
        ([9.0, 9.0], [6.0, 7.0], False, "better"),
        ([6.0, 7.0], [9.0, 9.0], False, "worse"),
        # one seed each: no spread, any difference counts
        (3.0, 3.5, True, "better"),
        (3.5, 3.5, True, "tie"),
        # a diverged run is the worst outcome
        ([np.nan, 1.0], [5.0, 5.0], True, "worse"),
        ([1.0, 1.0], [np.inf, 1.0], True, "better"),
        ([np.nan], [np.nan], True, "tie"),
    ],
)
def test_compare(method, baseline, lower, expected):
    assert verdicts.compare(method, baseline, lower_is_better=lower) == expected


def test_compare_boundary_is_a_tie():
    # means 0.5 vs 1.5: diff -1.0 equals the spread 0.5 + 0.5, and the rule needs it to exceed it
    assert verdicts.compare([0.0, 1.0], [1.0, 2.0]) == "tie"
    assert verdicts.compare([0.0, 1.0], [1.01, 2.01]) == "better"


def test_compare_rejects_empty():
    with pytest.raises(ValueError, match="non-empty"):
        verdicts.compare([], [1.0])


@pytest.mark.parametrize(
    "outcomes, expected",
    [
        (["better", "tie"], "reproduced"),
        (["worse", "tie", "tie"], "not reproduced"),
        (["better", "worse"], "mixed"),
        (["tie", "tie"], "inconclusive"),
    ],
)
def test_verdict(outcomes, expected):
    assert verdicts.verdict(outcomes) == expected


def test_verdict_rejects_unknown_outcome():
    with pytest.raises(ValueError, match="'great'"):
        verdicts.verdict(["better", "great"])


def test_ranks_and_spearman_match_scipy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(0, 5, size=9).astype(float)  # with ties
        y = rng.normal(size=9)
        np.testing.assert_allclose(verdicts.ranks(x), scipy.stats.rankdata(x))
        np.testing.assert_allclose(verdicts.spearman(x, y), scipy.stats.spearmanr(x, y).statistic, atol=1e-12)


def test_spearman_of_constant_is_nan():
    assert np.isnan(verdicts.spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


def test_counts():
    assert verdicts.counts(["better", "tie", "better", "worse"]) == "2 better, 1 tie, 1 worse"
