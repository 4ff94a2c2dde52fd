"""The statistics behind the verdicts, each rule on a hand-worked case.

The t distribution is checked against its closed forms for 2 and 4 degrees of
freedom (not against scipy, which the module uses), and against textbook
critical values.
"""

import json
import math

import numpy as np
import pytest

from dat_study import stats
from dat_tf import files


def t_cdf_df4(t):
    # Student's t CDF with 4 degrees of freedom, closed form.
    u = 1 + t * t / 4
    return 0.5 + 3 / 8 * t / math.sqrt(u) * (1 - t * t / (12 * u))


def t_cdf_df2(t):
    return 0.5 + t / (2 * math.sqrt(2 + t * t))


def t_quantile_df2(q):
    return (2 * q - 1) * math.sqrt(2 / (4 * q * (1 - q)))


def test_sample_std_is_ddof_1():
    # values 1, 2, 3, 4: squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, / (4 - 1)
    assert stats.sample_std([1.0, 2.0, 3.0, 4.0]) == pytest.approx(math.sqrt(5 / 3), rel=1e-12)
    assert math.isnan(stats.sample_std([3.0]))


def test_t_distribution_against_closed_forms_and_tables():
    for t in (0.3, 1.0, 2.5, 4.2426):
        assert stats.t_two_sided_p(t, 4) == pytest.approx(2 * (1 - t_cdf_df4(t)), rel=1e-9)
        assert stats.t_two_sided_p(-t, 2) == pytest.approx(2 * (1 - t_cdf_df2(t)), rel=1e-9)
    assert stats.t_quantile(0.975, 2) == pytest.approx(t_quantile_df2(0.975), rel=1e-9)
    # textbook table: t(0.975; 4) = 2.776, t(0.975; 1) = 12.706
    assert stats.t_quantile(0.975, 4) == pytest.approx(2.776, abs=5e-4)
    assert stats.t_quantile(0.975, 1) == pytest.approx(12.706, abs=5e-4)
    assert stats.t_two_sided_p(math.inf, 3) == 0.0


def test_paired_five_seeds_hand_worked():
    # FID, lower is better; the method is better by d = baseline - method = 1, 2, 3, 4, 5.
    baseline = {0: 10.0, 1: 12.0, 2: 9.0, 3: 11.0, 4: 13.0}
    method = {s: baseline[s] - d for s, d in zip(range(5), (1.0, 2.0, 3.0, 4.0, 5.0))}
    c = stats.paired(method, baseline, lower_is_better=True)
    # mean 3, sd sqrt(10 / 4) = 1.5811, se = sd / sqrt(5) = 0.70711, t = 3 / 0.70711 = 4.2426, df 4
    assert c.n == 5 and c.df == 4 and c.seeds == (0, 1, 2, 3, 4)
    assert c.effect == pytest.approx(3.0)
    assert c.sd == pytest.approx(math.sqrt(2.5))
    assert c.t == pytest.approx(3 * math.sqrt(2), rel=1e-12)
    # p = 2 (1 - F4(4.2426)) = 0.01323 (closed form above)
    assert c.p_t == pytest.approx(2 * (1 - t_cdf_df4(3 * math.sqrt(2))), rel=1e-9)
    assert c.p_t == pytest.approx(0.01323, abs=1e-5)
    # CI 3 ± 2.776445 * 0.70711 = [1.0368, 4.9632]
    assert c.ci == pytest.approx((1.0368, 4.9632), abs=1e-4)
    # sign test: 5 wins of 5 -> 2 / 32
    assert (c.wins, c.losses, c.zeros) == (5, 0, 0) and c.p_sign == pytest.approx(0.0625)
    assert c.test == "paired t" and c.p == c.p_t and c.degenerate is None
    assert c.method_mean == pytest.approx(8.0) and c.baseline_mean == pytest.approx(11.0)
    assert c.baseline_sd == pytest.approx(stats.sample_std(list(baseline.values())))


def test_paired_sign_of_the_effect_follows_the_direction():
    # modes covered: higher is better; d = method - baseline = 1, 2, 6 (seed order does not matter)
    method = {2: 7.0, 0: 6.0, 1: 9.0}
    baseline = {0: 5.0, 1: 7.0, 2: 1.0}
    c = stats.paired(method, baseline, lower_is_better=False)
    # mean 3, sd sqrt(7), se sqrt(7/3) = 1.5275, t = 1.9640, df 2
    assert c.effect == pytest.approx(3.0) and c.t == pytest.approx(3 / math.sqrt(7 / 3))
    assert c.p_t == pytest.approx(2 * (1 - t_cdf_df2(c.t)), rel=1e-9)
    assert c.p_t == pytest.approx(0.1885, abs=1e-4)
    half = t_quantile_df2(0.975) * math.sqrt(7 / 3)  # 4.3027 * 1.5275 = 6.5725
    assert c.ci == pytest.approx((3 - half, 3 + half), rel=1e-9)
    flipped = stats.paired(method, baseline, lower_is_better=True)
    assert flipped.effect == pytest.approx(-3.0) and flipped.p_t == pytest.approx(c.p_t)
    assert (flipped.wins, flipped.losses) == (0, 3)


def test_sign_test_is_the_exact_binomial_sum():
    # 7 wins, 2 losses: P(X <= 2) = (1 + 9 + 36) / 512, two-sided doubles it
    assert stats.sign_test_p(7, 2) == pytest.approx(2 * 46 / 512)
    assert stats.sign_test_p(2, 7) == stats.sign_test_p(7, 2)
    assert stats.sign_test_p(3, 3) == 1.0  # 2 * 42/64 > 1, capped
    assert stats.sign_test_p(0, 0) == 1.0
    assert stats.sign_test_p(10, 0) == pytest.approx(2 / 1024)
    with pytest.raises(ValueError, match="wins must be an integer >= 0, got -1"):
        stats.sign_test_p(-1, 2)


def test_sign_test_drops_zero_differences():
    c = stats.paired({0: 1.0, 1: 1.0, 2: 1.0}, {0: 2.0, 1: 2.0, 2: 1.0}, lower_is_better=True)
    assert (c.wins, c.losses, c.zeros) == (2, 0, 1) and c.p_sign == pytest.approx(2 * 1 / 4)


def test_holm_worked_example():
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> raised to 0.06 (monotone)
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert stats.holm([0.04]) == pytest.approx([0.04])  # one test: no correction
    adj = stats.holm([0.01, float("nan")])  # a test-less cell still counts in m
    assert adj[0] == pytest.approx(0.02) and math.isnan(adj[1])
    assert stats.holm([]) == []
    with pytest.raises(ValueError, match=r"\[1.5\]"):
        stats.holm([0.1, 1.5])


def test_degenerate_saturated_cell():
    nine = {s: 9.0 for s in range(5)}
    c = stats.paired(nine, dict(nine), lower_is_better=False, bound=9)
    assert c.degenerate.startswith("saturated") and "9" in c.degenerate
    assert c.test == "none" and math.isnan(c.p)
    # one run off the bound: a real cell
    c = stats.paired(nine, {**nine, 4: 5.0}, lower_is_better=False, bound=9)
    assert c.degenerate is None and c.test == "paired t" and c.effect == pytest.approx(0.8)


def test_degenerate_identical_arms_and_no_headroom():
    lp = {0: 28.1, 1: 25.0, 2: 31.7}
    c = stats.paired(lp, dict(lp), lower_is_better=True)
    assert c.degenerate == "no difference in any seed (zero paired spread)" and math.isnan(c.p)
    c = stats.paired({0: 1.0, 1: 2.0}, {0: 3.0, 1: 1.0}, lower_is_better=False, no_headroom="starts within tol")
    assert c.degenerate == "no headroom: starts within tol" and math.isnan(c.p)


def test_zero_spread_with_a_difference_is_decisive_not_degenerate():
    c = stats.paired({0: 1.0, 1: 2.0, 2: 3.0}, {0: 2.0, 1: 3.0, 2: 4.0}, lower_is_better=True)
    assert c.degenerate is None and c.sd == 0.0
    assert c.t == math.inf and c.p_t == 0.0 and c.ci == pytest.approx((1.0, 1.0))


def test_seeds_must_match_and_the_error_names_them():
    with pytest.raises(ValueError, match=r"seeds \[1\] only in the method, \[2\] only in the baseline"):
        stats.paired({0: 1.0, 1: 2.0}, {0: 1.0, 2: 2.0}, lower_is_better=True)
    with pytest.raises(ValueError, match="no seeds"):
        stats.paired({}, {}, lower_is_better=True)
    with pytest.raises(ValueError, match=r"3 values but 2 seeds \(\[0, 1\]\)"):
        stats.by_seed([1.0, 2.0, 3.0], [0, 1])
    with pytest.raises(ValueError, match=r"seeds \[1\] appear more than once"):
        stats.by_seed([1.0, 2.0, 3.0], [0, 1, 1])
    assert stats.by_seed([5.0, 6.0], [3, 1]) == {3: 5.0, 1: 6.0}


def test_one_sided_divergence_is_a_loss_and_the_sign_test_decides():
    method = {0: 1.0, 1: 1.5, 2: np.nan, 3: 1.0, 4: 2.0}
    baseline = {0: 2.0, 1: 2.5, 2: 3.0, 3: 2.2, 4: 3.0}
    c = stats.paired(method, baseline, lower_is_better=True)
    # 4 finite wins, the diverged seed 2 a loss: p = 2 (1 + 5) / 32
    assert (c.wins, c.losses) == (4, 1) and c.p_sign == pytest.approx(12 / 32)
    assert c.test == "sign test" and c.p == c.p_sign
    assert c.n == 4 and c.effect == pytest.approx(np.mean([1.0, 1.0, 1.2, 1.0]))  # over the finite seeds
    # the baseline diverged instead: a win for the method
    # higher is better: d = 1 (seed 1), 0 (seed 2), 1.2, 1, and seed 0's baseline diverged
    c = stats.paired(baseline, {**method, 2: 3.0, 0: np.inf}, lower_is_better=False)
    assert (c.wins, c.losses, c.zeros) == (4, 0, 1) and c.p_sign == pytest.approx(2 / 16)
    assert c.test == "sign test" and c.p == c.p_sign


def test_a_value_stored_as_none_is_a_diverged_run():
    # strict JSON stores NaN as null: a run read back from a results file must count as it did before writing
    method, baseline = {0: 1.0, 1: 1.5, 2: np.nan, 3: 1.0, 4: 2.0}, {0: 2.0, 1: 2.5, 2: 3.0, 3: 2.2, 4: 3.0}
    read_back = json.loads(files.dumps({str(k): v for k, v in method.items()}))
    assert read_back["2"] is None
    c = stats.paired({int(k): v for k, v in read_back.items()}, baseline, lower_is_better=True)
    assert c == stats.paired(method, baseline, lower_is_better=True)
    assert (c.wins, c.losses) == (4, 1) and c.test == "sign test"


def test_seeds_where_both_arms_diverged_are_dropped():
    method = {0: 1.0, 1: 2.0, 2: np.nan, 3: 1.5}
    baseline = {0: 2.0, 1: 2.5, 2: np.inf, 3: 3.0}
    c = stats.paired(method, baseline, lower_is_better=True)
    assert c.both_diverged == (2,) and c.n == 3 and c.test == "paired t"
    assert c.effect == pytest.approx(np.mean([1.0, 0.5, 1.5]))


def test_an_undefined_value_that_is_not_a_divergence_drops_its_seed_instead_of_losing_it():
    # higher is better (attack steps); the baseline has no value in seed 2 (never fooled), the method in seed 4
    method = {0: 120.0, 1: 100.0, 2: 180.0, 3: 95.0, 4: np.nan}
    baseline = {0: 300.0, 1: 140.0, 2: np.nan, 3: 150.0, 4: 200.0}
    as_divergence = stats.paired(method, baseline, lower_is_better=False)
    assert (as_divergence.wins, as_divergence.losses) == (1, 4) and as_divergence.test == "sign test"
    c = stats.paired(method, baseline, lower_is_better=False, undefined="never fooled")
    d = np.array([120 - 300, 100 - 140, 95 - 150], float)  # seeds 0, 1, 3
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    assert c.seeds == (0, 1, 3) and c.undefined_seeds == (2, 4) and c.undefined == "never fooled"
    assert (c.wins, c.losses, c.n, c.test) == (0, 3, 3, "paired t")
    assert c.effect == pytest.approx(d.mean()) and c.t == pytest.approx(t)
    assert c.p_t == pytest.approx(2 * (1 - t_cdf_df2(abs(t))), rel=1e-6)
    # every seed defined: the same cell as without the option
    full = {0: 1.0, 1: 2.0, 2: 1.5}
    assert stats.paired(full, {0: 2.0, 1: 2.5, 2: 3.0}, True, undefined="x") == \
        stats.paired(full, {0: 2.0, 1: 2.5, 2: 3.0}, True)
    # fewer than 2 seeds left: degenerate, named, not tested
    c = stats.paired({0: 1.0, 1: np.nan, 2: 3.0}, {0: 2.0, 1: 2.0, 2: np.nan}, False, undefined="never fooled")
    assert c.test == "none" and stats.kind_of(c.degenerate) == "undefined" and "2 of 3 seeds" in c.degenerate


def test_one_pair_has_no_test():
    c = stats.paired({0: 1.0}, {0: 2.0}, lower_is_better=True)
    assert c.n == 1 and c.test == "none" and math.isnan(c.p) and math.isnan(c.ci[0])


# ------------------------------------------------------------------ cells that cannot move (third edition)


@pytest.mark.parametrize("fid, is_, failed", [
    (300.0, 1.0, True),  # a collapsed generator: IS ~ 1, FID of an untrained one
    (160.0, 4.1, True),  # FID over half an untrained generator's
    (62.5, 6.0, False),  # learned, if worse than the best arms (the pilot's WGAN None on D's logit)
    (16.0, 6.7, False),
    (float("nan"), None, True),  # diverged
    (None, None, True),
    (40.0, 1.99, True),  # below the IS floor, whatever the FID
])
def test_run_failed(fid, is_, failed):
    assert stats.run_failed(fid, is_) is failed


def test_arm_failed_needs_half_of_the_seeds():
    assert stats.arm_failed({0: True, 1: False})  # half
    assert not stats.arm_failed({0: True, 1: False, 2: False})
    assert not stats.arm_failed({})


def test_failed_cell_sets_apart_only_the_setup_or_both_arms():
    reason, lost = stats.failed_cell(True, True, False)
    assert reason.startswith("failed: the setting's arm without a regularizer") and lost is None
    assert stats.failed_cell(False, True, True, names=("DAT", "None")) == (
        "failed: neither arm learned (DAT and None)", None)
    # the method fails where the setup trains: a result, counted (the arm that did not learn loses the cell)
    assert stats.failed_cell(False, True, False) == (None, "method")
    assert stats.failed_cell(False, False, True) == (None, "baseline")
    assert stats.failed_cell(False, False, False) == (None, None)


def test_inactive_reason_uses_the_mean_share_over_seeds():
    assert stats.inactive_reason([0.0005, 0.0024]).startswith("inactive: DAT's perturbation is 0.00145")
    assert stats.inactive_reason([0.005, 0.016]) is None  # mean 0.0105 >= 0.01
    assert stats.inactive_reason([float("nan"), None]) is None  # nothing measured: not inactive
    assert stats.kind_of(stats.inactive_reason([0.001])) == "inactive"
    assert stats.kind_of("failed: x") == "failed" and stats.kind_of("saturated: every run") == "saturated"


def test_paired_with_cannot_move_is_not_tested_but_keeps_its_numbers():
    c = stats.paired({0: 1.0, 1: 2.0, 2: 3.0}, {0: 2.0, 1: 4.0, 2: 5.0}, True, cannot_move="inactive: tiny")
    assert c.degenerate == "inactive: tiny" and c.test == "none" and math.isnan(c.p)
    assert c.effect == pytest.approx(5.0 / 3) and c.method_mean == 2.0 and c.baseline_mean == pytest.approx(11 / 3)
