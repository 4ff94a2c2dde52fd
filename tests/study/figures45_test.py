"""Figure 5's measures on hand-worked logs, and the cells they give."""

import math

import numpy as np
import pytest

from dat_study import figures45, study


def _curve(values):
    return [{"step": 100 * (i + 1), "is": v} for i, v in enumerate(values)]


def _logs(w):
    return [{"step": 50 * (i + 1), "d_real": x + 1.0, "d_fake": 1.0} for i, x in enumerate(w)]


def test_is_decline_share_below_the_running_peak():
    # peaks 2, 4, 4, 4, 4, 5; below 95% of the peak: 3.0 and 3.7 (3.9 is within 5% of 4)
    assert figures45.is_decline(_curve([2.0, 4.0, 3.0, 3.7, 3.9, 5.0])) == pytest.approx(2 / 6)
    assert figures45.is_decline(_curve([1.0, 2.0, 3.0])) == 0.0  # rising all along: no decline
    assert figures45.is_decline(_curve([5.0, 1.0, 1.0, 1.0])) == pytest.approx(0.75)
    assert math.isnan(figures45.is_decline([])) and math.isnan(figures45.is_decline(_curve([1.0, float("nan")])))
    assert figures45.IS_MARGIN == 0.05
    assert figures45.is_drawdown(_curve([2.0, 4.0, 3.0, 5.0])) == pytest.approx(0.25)  # (0 + 0 + 1 + 0) / 4


def test_w_size_and_instability_over_the_second_half():
    w = [10.0, -10.0, 10.0, 1.0, -2.0, 4.0, 3.0]  # second half: the last 4 values (7 // 2 = 3 dropped)
    assert figures45.w_size(_logs(w)) == pytest.approx((1 + 2 + 4 + 3) / 4)
    # changes -3, 6, -1: mean 2/3, sample std sqrt(((−11/3)^2 + (16/3)^2 + (−5/3)^2) / 2)
    assert figures45.w_instability(_logs(w)) == pytest.approx(np.std([-3.0, 6.0, -1.0], ddof=1))
    assert math.isnan(figures45.w_instability(_logs([1.0, 2.0, 3.0, 4.0])))  # 2 points in the second half
    assert math.isnan(figures45.w_size(_logs([1.0, 2.0])[:1] + [{"d_real": None, "d_fake": 0.0}]))


def _runs(is_none, is_dat, w_none, w_dat, seeds=(0, 1, 2, 3, 4)):
    runs = []
    for stem in (figures45.WGAN_IT1, figures45.WGAN_IT5):
        for arm, curve, w in (("none", is_none, w_none), ("dat", is_dat, w_dat)):
            for s in seeds:
                runs.append({"stem": stem, "arm": arm, "seed": s, "curve": _curve(curve(s)), "logs": _logs(w(s)),
                             "final": {"fid_train": 10.0 + s}, "diverged_at": None, "config": {"n_iter": 1000}})
    return runs


def test_figure5_cells_hand_worked_and_a_diverged_run_loses():
    runs = _runs(lambda s: [2.0, 5.0, 3.0, 3.0, 4.0 + s], lambda s: [2.0, 5.0, 4.0 + 0.1 * s, 5.0, 5.5],
                 lambda s: [0, 0, 4.0, -4.0, 4.0 + s, -4.0], lambda s: [0, 0, 1.0, 1.5, 1.0, 1.5 + 0.1 * s])
    cells = figures45.comparisons(runs)
    assert set(cells) >= {("is_decline", figures45.WGAN_IT5), ("w_size", figures45.WGAN_IT1),
                          ("w_instability", figures45.WGAN_IT5)}
    assert ("is_decline", figures45.WGAN_IT1) not in cells  # the claim is about it = 5
    # GAN: 3 of 5 points below 4.75 in seed 0 (its last is 4.0), 2 in the others; DAT: 1 (4.0-4.4) in every seed
    c = cells[("is_decline", figures45.WGAN_IT5)]
    assert c.effect == pytest.approx(np.mean([3 / 5 - 1 / 5] + [2 / 5 - 1 / 5] * 4)) and c.wins == 5
    # |w| over the last 3 points: GAN (4 + 4 + s + 4) / 3, DAT (1.5 + 1 + 1.5 + 0.1 s) / 3
    assert cells[("w_size", figures45.WGAN_IT1)].effect == pytest.approx(np.mean([(12 + s - 4 - 0.1 * s) / 3
                                                                                  for s in range(5)]))
    runs[0]["diverged_at"] = 7  # GAN, it 1, seed 0
    c = figures45.comparisons(runs)[("w_size", figures45.WGAN_IT1)]
    assert c.test == "sign test" and c.wins == 5 and c.n == 4


def test_section_sizes_and_page(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path))
    assert (opts.figures45_seeds, opts.curve_fraction, opts.figures45_log_every) == ((0, 1, 2, 3, 4), 0.05, 50)
    runs = _runs(lambda s: [2.0, 5.0, 3.0, 3.0, 4.0 + s], lambda s: [2.0, 5.0, 5.0, 5.0, 5.5 + s],
                 lambda s: [0, 0, 4.0, -4.0, 4.0 + s, -4.0], lambda s: [0, 0, 1.0, 1.5, 1.0, 1.5 + 0.1 * s])
    import os

    os.makedirs(opts.artefacts)
    sec = {"data": {"runs": runs, "curve_every": 100, "log_every": 50, "eval_samples": 2000}}
    lines, claims, _ = figures45.section_markdown(opts, sec)
    text = "\n".join(lines)
    assert "IS evaluations during training (every 5% of the budget) lying more than 5% below the running peak" in text
    assert [c.text for c in claims][-3:] == ["WGAN at it = 5: the IS decline is shorter with DAT",
                                              "WGAN: the Wasserstein estimate is smaller with DAT",
                                              "WGAN: the Wasserstein estimate is more stable with DAT"]
    assert os.path.getsize(os.path.join(opts.artefacts, "figure5.png")) > 1000
    # the scope stands alone (the README's table shows it without the section)
    assert {c.scope for c in claims} == {"digits at 16x16, the digits classifier, 1000 steps in every setting, "
                                         "2000 samples per evaluation, 5 seeds"}
