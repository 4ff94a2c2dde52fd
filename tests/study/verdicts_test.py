"""The verdict rules of the results page: cell outcomes under Holm, claim words, rank agreement."""

import math

import numpy as np
import pytest
import scipy.stats

from dat_study import stats, verdicts

# d = 1, 2, 3, 4, 5 in favour of the method: paired t p = 0.01323 (see stats_test)
BASE = {0: 10.0, 1: 12.0, 2: 9.0, 3: 11.0, 4: 13.0}
GOOD = {s: BASE[s] - d for s, d in zip(range(5), (1.0, 2.0, 3.0, 4.0, 5.0))}
NOISE = {0: 10.5, 1: 11.0, 2: 9.5, 3: 11.5, 4: 12.0}  # d = -0.5, 1, -0.5, -0.5, 1: mean 0.1, p ~ 0.78


def test_decide_applies_holm_over_the_tested_cells():
    cells = verdicts.decide({
        "good": stats.paired(GOOD, BASE, True),
        "bad": stats.paired(BASE, GOOD, True),  # the same pair the other way round
        "noise": stats.paired(NOISE, BASE, True),
        "saturated": stats.paired({s: 9.0 for s in BASE}, {s: 9.0 for s in BASE}, False, bound=9),
    })
    p = cells["good"].comparison.p_t
    # 3 tested cells: the two smallest p are equal; Holm gives 3p and max(3p, 2p) = 3p
    assert cells["good"].p_holm == pytest.approx(3 * p) and cells["bad"].p_holm == pytest.approx(3 * p)
    assert 3 * p < 0.05
    assert (cells["good"].outcome, cells["bad"].outcome, cells["noise"].outcome) == ("better", "worse", "tie")
    assert cells["saturated"].outcome == "degenerate" and math.isnan(cells["saturated"].p_holm)
    assert all(c.family == 3 for c in cells.values())


def test_decide_a_cell_significant_alone_is_a_tie_in_a_large_family():
    family = {f"noise{i}": stats.paired(NOISE, BASE, True) for i in range(3)}
    family["good"] = stats.paired(GOOD, BASE, True)
    cells = verdicts.decide(family)
    # 0.01323 x 4 = 0.0529 > 0.05
    assert cells["good"].p_holm == pytest.approx(4 * cells["good"].comparison.p_t) and cells["good"].outcome == "tie"


def test_decide_uses_the_sign_test_under_a_one_sided_divergence():
    method = {s: 1.0 for s in range(10)}
    baseline = {**{s: 2.0 for s in range(9)}, 9: np.nan}  # the baseline diverged once
    cells = verdicts.decide({"c": stats.paired(method, baseline, True)})
    assert cells["c"].comparison.test == "sign test"
    assert cells["c"].p_holm == pytest.approx(2 / 1024) and cells["c"].outcome == "better"


def test_decide_rejects_bad_input():
    with pytest.raises(ValueError, match="alpha must lie in"):
        verdicts.decide({}, alpha=0.0)
    with pytest.raises(ValueError, match=r"\['x'\]"):
        verdicts.decide({"x": 0.3})


def cell(outcome, seeds=5):
    return verdicts.Cell("c", outcome, 0.01, seeds, None, 4)


@pytest.mark.parametrize(
    "outcomes, seeds, word",
    [
        (["better", "better", "tie"], 5, "reproduced"),  # most counted cells better, none worse
        (["better", "tie"], 5, "partly reproduced (1 of 2)"),  # half is not most
        (["better", "tie", "tie", "tie", "tie", "tie"], 5, "partly reproduced (1 of 6)"),
        (["better", "tie"], 3, "suggestive (1 of 2)"),
        (["better", "better"], 3, "suggestive"),
        (["worse", "tie", "tie"], 5, "not reproduced at this scale"),
        (["worse", "tie"], 2, "suggestive against"),
        (["better", "worse", "tie"], 5, "mixed (1 better, 1 worse of 3)"),
        (["better", "worse"], 3, "mixed (suggestive)"),
        (["tie", "tie"], 5, "not shown"),
        (["tie", "tie"], 2, "not shown"),
        (["degenerate", "degenerate"], 5, "cannot be judged here"),
        (["better", "degenerate"], 5, "reproduced"),  # a cell that cannot move is not counted
    ],
)
def test_verdict_words(outcomes, seeds, word):
    v = verdicts.verdict([cell(o, seeds) for o in outcomes])
    assert v.word == word and v.base_word in verdicts.WORDS


def test_verdict_counts_only_cells_that_can_move_and_the_fewest_seeds():
    v = verdicts.verdict([cell("better", 5), cell("tie", 3), cell("degenerate", 1)])
    assert (v.better, v.worse, v.tie, v.degenerate, v.seeds, v.family) == (1, 0, 1, 1, 3, 4)
    assert v.word == "suggestive (1 of 2)"
    assert v.text() == ("1 of 2 cells better, 0 worse, 1 tie at alpha=0.05 (Holm over the 4 tested cells of its "
                        "family); 3 seeds (< 5: at most suggestive); 1 cell not counted")


def test_verdict_rejects_unknown_outcome_and_empty_claims():
    with pytest.raises(ValueError, match="'great'"):
        verdicts.verdict([cell("better"), cell("great")])
    with pytest.raises(ValueError, match="at least one cell"):
        verdicts.verdict([])


@pytest.mark.parametrize(
    "a, b, expected",
    [("better", "better", "better"), ("better", "tie", "tie"), ("tie", "worse", "worse"),
     ("degenerate", "better", "degenerate"), ("better", "worse", "worse")],
)
def test_both_needs_both(a, b, expected):
    x, y = verdicts.Cell("x", a, 0.01, 5, None, 2), verdicts.Cell("y", b, 0.03, 3, None, 2)
    c = verdicts.both("xy", x, y, "note")
    assert c.outcome == expected and c.p_holm == 0.03 and c.seeds == 3


def test_flipped_swaps_better_and_worse_only():
    assert verdicts.flipped(cell("better")).outcome == "worse"
    assert verdicts.flipped(cell("worse")).outcome == "better"
    assert verdicts.flipped(cell("tie")).outcome == "tie"


def test_claim_line_and_one_cell_effect():
    cells = verdicts.decide({"good": stats.paired(GOOD, BASE, True)})
    claim = verdicts.Claim("DAT beats None", "setup", tuple(cells.values()), scope="digits 16x16, 5 seeds")
    assert claim.line().startswith("DAT beats None: **reproduced** (1 of 1 cells better")
    assert "Scope: digits 16x16, 5 seeds" in claim.line()
    effect, p = claim.effect_and_p()
    assert effect == "+3.00 [+1.04, +4.96]" and p == "0.0132"


def test_claim_names_the_cells_it_did_not_count_with_their_numbers():
    inactive = stats.paired(GOOD, BASE, True, cannot_move=stats.inactive_reason([0.0005, 0.0024]))
    cells = verdicts.decide({"good": stats.paired(GOOD, BASE, True), "off": inactive})
    claim = verdicts.Claim("c", "s", (verdicts.named(cells["good"], "GAN"), verdicts.named(cells["off"], "WGAN it 5")))
    assert claim.verdict.word == "reproduced" and claim.verdict.counted == 1
    (line,) = claim.not_counted()
    assert line.startswith("inactive: DAT's perturbation is 0.00145 of the inputs' norm (< 0.01): WGAN it 5")
    assert "(method 8.00 ± 1.58, baseline 11.00 ± 1.58)" in line  # the cell's numbers, though not tested
    assert cells["off"].p_holm != cells["off"].p_holm and cells["good"].family == 1  # untested, not in the family


def test_small_values_print_readably():
    assert verdicts.readable(0.000512) == "0.000512" and verdicts.readable(12.345) == "12.35"
    assert verdicts.mean_sd([0.0005, 0.0024], 3) == "0.00145 ± 0.00134"
    c = stats.paired({0: 0.0010, 1: 0.0012, 2: 0.0011}, {0: 0.0020, 1: 0.0021, 2: 0.0023}, True)
    assert verdicts.effect(c, 3).startswith("+0.00103 [")


def test_cells_table_lists_degenerate_cells_apart():
    cells = verdicts.decide({
        "good": stats.paired(GOOD, BASE, True),
        "sat": stats.paired({s: 9.0 for s in BASE}, {s: 9.0 for s in BASE}, False, bound=9),
    })
    lines = verdicts.cells_table([("good cell", cells["good"]), ("sat cell", cells["sat"])])
    table = [line for line in lines if line.startswith("| good cell")]
    assert len(table) == 1 and "+3.00 [+1.04, +4.96]" in table[0] and "**better**" in table[0]
    assert not any(line.startswith("| sat cell") for line in lines)
    assert any(line.startswith("- sat cell: **saturated**: every run of both arms at the metric's bound 9")
               for line in lines)


def test_ranks_and_spearman_match_scipy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(0, 5, size=9).astype(float)  # with ties
        y = rng.normal(size=9)
        np.testing.assert_allclose(verdicts.ranks(x), scipy.stats.rankdata(x))
        np.testing.assert_allclose(verdicts.spearman(x, y), scipy.stats.spearmanr(x, y).statistic, atol=1e-12)


def test_spearman_of_constant_is_nan():
    assert np.isnan(verdicts.spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))


def test_an_arm_that_did_not_learn_loses_its_cell_and_keeps_holm_s_family():
    """A collapsed GAN's D can win a metric (a small gradient norm): the rule of stats.failed_arm makes it lose."""
    assert [stats.failed_cell(*f)[1] for f in ((False, True, False), (False, False, True), (True, True, False),
                                           (False, True, True), (False, False, False))] == [
        "method", "baseline", None, None, None]
    with pytest.raises(ValueError, match="failed_arm must be None, 'method' or 'baseline', got 'dat'"):
        stats.paired(GOOD, BASE, True, failed_arm="dat")
    plain = verdicts.decide({"good": stats.paired(GOOD, BASE, True), "noise": stats.paired(NOISE, BASE, True)})
    ruled = verdicts.decide({"good": stats.paired(GOOD, BASE, True, failed_arm="method"),
                             "noise": stats.paired(NOISE, BASE, True)})
    assert plain["good"].outcome == "better" and ruled["good"].outcome == "worse"
    assert ruled["good"].failed_arm == "method" and "did not learn" in ruled["good"].note
    # the cell stays tested: the family and every Holm p are those without the rule
    assert ruled["noise"].p_holm == plain["noise"].p_holm and ruled["good"].p_holm == plain["good"].p_holm
    assert ruled["good"].family == 2
    # the baseline failing gives the method the cell, even where its metric says the opposite
    lost_b = verdicts.decide({"c": stats.paired(BASE, GOOD, True, failed_arm="baseline")})["c"]
    assert lost_b.outcome == "better"
    # read the other way round, the failed arm still loses; combined, the failure carries over
    assert verdicts.flipped(ruled["good"]).outcome == "worse"
    combined = verdicts.both("x", ruled["good"], plain["good"], "")
    assert (combined.outcome, combined.failed_arm) == ("worse", "method")
    claim = verdicts.Claim("c", "s", (verdicts.named(ruled["good"], "good cell"),
                                      verdicts.named(ruled["noise"], "noise cell")))
    assert "Decided by an arm that did not learn (counted: that arm loses): good cell (worse: the method did not " \
           "learn, method 8.00 ± 1.58, baseline 11.00 ± 1.58)" in claim.line()
    assert claim.verdict.word == "not reproduced at this scale"
