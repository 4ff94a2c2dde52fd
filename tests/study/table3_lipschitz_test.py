"""Table 3's and the Lipschitz section's fixed rules, on hand-worked numbers; the runner's end-of-run measurement."""

import math
import os

import numpy as np
import pytest

from dat_study import common, lipschitz, runner, stats, study, table3, verdicts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(reg, seed, fid, row="gan", arm="main", final_is=6.0, **extra):
    return dict({"arm": arm, "row": row, "reg": reg, "seed": seed,
                 "final": {"fid_train": fid, "kid_train": 0.1, "is": final_is},
                 "logs": [], "config": {"n_iter": 1000}, "diverged_at": None}, **extra)


def test_shared_seeds_and_row_means():
    runs = [_run("none", s, f) for s, f in enumerate((10.0, 11.0, 12.0, 13.0, 14.0))]
    runs += [_run("gp", s, f) for s, f in enumerate((20.0, 21.0, 22.0))]
    # means over the seeds every column holds (0, 1, 2): None 11, GP 21 -- not None's 12 over five seeds
    assert table3.row_means(runs, "main", "gan", ("none", "gp")) == {"none": 11.0, "gp": 21.0}
    runs.append(_run("lp", 0, float("nan")))
    runs += [_run("lp", s, 1.0) for s in (1, 2)]
    assert table3.row_means(runs, "main", "gan", ("none", "lp"))["lp"] == math.inf  # a diverged seed: worst



def test_the_table_prints_each_row_s_seeds_a_cell_s_own_count_and_ranks_over_shared_seeds():
    runs = [_run("none", s, f) for s, f in enumerate((10.0, 11.0, 12.0, 13.0, 30.0))]
    runs += [_run("gp", s, f) for s, f in enumerate((12.0, 12.0, 12.0, 12.0, 12.0))]
    runs += [_run("lp", s, f) for s, f in enumerate((11.5, 11.5, 11.5))]
    lines = []
    table3._fid_table(runs, "main", ("none", "gp", "lp"), lines)
    row = next(line for line in lines if line.startswith("| GAN"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    # the row holds 5 seeds; ranks are over the 3 seeds all columns hold: None 11.0, LP 11.5, GP 12.0
    assert cells[1] == "5 (3)"
    assert cells[2].startswith("15.20 ±") and cells[2].endswith("(#1)") and "[" not in cells[2]
    assert cells[3].startswith("12.00 ±") and cells[3].endswith("(#3)")
    assert cells[4].startswith("11.50 ±") and "[3 seeds]" in cells[4] and cells[4].endswith("(#2)")
    assert table3.shared_seeds(runs, "main", "gan", ("none", "gp", "lp")) == (0, 1, 2)

def test_a_partial_section_names_what_has_not_run_yet():
    central = [_run(reg, 0, 10.0) for reg in ("none", "gp", "zero_gp", "dat")]
    line = " ".join(table3._not_run_yet(central))
    assert "Not run yet:" in line and "the labelled arm" in line
    assert "LP" in line and "DATT (ref.)" in line and "0-GP" not in line and "None" not in line
    whole = [_run(reg, 0, 10.0) for reg in table3.MAIN_COLUMNS] + [_run("none", 0, 10.0, arm="other")]
    assert table3._not_run_yet(whole) == []


def _logs(ratio=0.0, reg=0.0, d_loss=1.0):
    return [{"step": 100 * i, "perturbation_ratio": ratio, "reg": reg, "d_loss": d_loss} for i in range(1, 5)]


def test_claims_cells_pick_the_best_by_mean_and_variants_are_their_own_family():
    runs = []
    for s in range(5):
        runs += [_run("none", s, 20.0 + s), _run("dat", s, 10.0 + s, logs=_logs(0.05)),
                 _run("zero_gp", s, 15.0 + s, row="wgan"), _run("dat", s, 12.0 + 0.1 * s, row="wgan", logs=_logs(0.05)),
                 _run("none", s, 30.0, row="wgan"), _run("datt", s, 9.0 + s, logs=_logs(0.05)),
                 _run("gp", s, 8.0 + s), _run("lp", s, 25.0), _run("dat_reference", s, 11.0 + s, logs=_logs(0.05)),
                 _run("datt_reference", s, 9.5 + s, logs=_logs(0.05))]
    cells = table3.comparisons(runs)
    dvn = cells[("dat_vs_none", "gan")]
    assert dvn.seeds == (0, 1, 2, 3, 4) and dvn.effect == pytest.approx(10.0) and dvn.degenerate is None
    # GAN row means: DAT 12, DATT 11, GP 10, None 22, LP 25: ours = DATT, the best other = GP
    assert [k for k in cells if k[0] == "best"] == [("best", "gan", "datt", "gp")]
    assert cells[("best", "gan", "datt", "gp")].effect == pytest.approx(-1.0)  # GP better by 1
    wg = cells[("wgan_dat_vs_zero_gp",)]
    assert wg.effect == pytest.approx(np.mean([15 + s - 12 - 0.1 * s for s in range(5)]))
    assert not any(k[0] == "variant" for k in cells)  # not a claim: a family of its own
    variants = table3.variant_comparisons(runs)
    assert variants[("variant", "gan", "dat")].effect == pytest.approx(1.0)  # 10+s vs 11+s: paper better
    assert variants[("variant", "gan", "datt")].effect == pytest.approx(0.5)
    assert ("variant", "wgan", "dat") not in variants  # no reference run in that row: no cell


def test_cells_that_cannot_move_are_named():
    runs = []
    for s in range(5):
        # the WGAN row's None did not learn (IS ~1): its cells are failed, whatever DAT did
        runs += [_run("none", s, 300.0, row="wgan", final_is=1.0), _run("dat", s, 20.0, row="wgan", logs=_logs(0.05)),
                 _run("zero_gp", s, 30.0, row="wgan")]
        # the LSGAN row: DAT's perturbation is 0.2% of the inputs: inactive
        runs += [_run("none", s, 20.0 + s, row="lsgan"), _run("dat", s, 19.0 + s, row="lsgan", logs=_logs(0.002))]
        # the GAN row: DAT collapses where None learns: counted, DAT loses
        runs += [_run("none", s, 20.0 + s), _run("dat", s, 310.0, final_is=1.0, logs=_logs(0.05))]
    cells = table3.comparisons(runs)
    assert cells[("dat_vs_none", "wgan")].degenerate.startswith("failed: the WGAN row's arm without a regularizer")
    assert cells[("wgan_dat_vs_zero_gp",)].degenerate.startswith("failed: the WGAN row's")
    assert cells[("dat_vs_none", "lsgan")].degenerate == "inactive: DAT's perturbation is 0.002 of the inputs' norm (< 0.01)"
    gan = cells[("dat_vs_none", "gan")]
    assert gan.degenerate is None and gan.effect < -250  # DAT did not learn, None did: DAT loses the cell
    assert table3.arm_failed(runs, "main", "gan", "dat") and not table3.arm_failed(runs, "main", "gan", "none")


def test_effect_share_of_perturbations_and_penalties():
    assert table3.effect_share({"logs": _logs(ratio=0.03)}, "dat") == pytest.approx(0.03)
    # a penalty of 0.004 on a D loss of 1.004 with it: 0.004 / 1.0 of the loss without it
    assert table3.effect_share({"logs": _logs(reg=0.004, d_loss=1.004)}, "ar") == pytest.approx(0.004)
    assert math.isnan(table3.effect_share({"logs": _logs()}, "none"))


# ------------------------------------------------------------------ lipschitz


def test_matching_rule_is_nearest_in_log_ratio():
    # target 0.5: |log(2/0.5)| = 1.39, |log(0.3/0.5)| = 0.51, |log(0.05/0.5)| = 2.30 -> weight 1
    assert lipschitz.choose_weight(0.5, {0.1: 2.0, 1.0: 0.3, 10.0: 0.05}) == 1.0
    # 0.25 and 1.0 are equally far from 0.5 in log ratio: the larger weight wins
    assert lipschitz.choose_weight(0.5, {0.1: 1.0, 1.0: 0.25}) == 1.0
    # a diverged candidate is skipped
    assert lipschitz.choose_weight(0.5, {0.01: float("nan"), 0.1: 5.0}) == 0.1
    with pytest.raises(ValueError, match="cannot match"):
        lipschitz.choose_weight(float("nan"), {0.1: 1.0})
    logs = [{"grad_norm_real": 9.0, "grad_norm_fake": 9.0}] * 3 + [{"grad_norm_real": 1.0, "grad_norm_fake": 3.0}]
    assert lipschitz.run_norm(logs) == pytest.approx(2.0)  # the last quarter: (1 + 3) / 2


def _corr(norm_real, correct_real, norm_fake, correct_fake, ratio):
    return {"real": {"norm": norm_real, "correct": correct_real}, "fake": {"norm": norm_fake, "correct": correct_fake},
            "ratio": ratio, "batches": 1, "batch_size": len(norm_real)}


def test_adaptivity_cells_pair_by_seed_and_drop_undefined_ratios():
    runs = []
    for s, (dat, gp) in enumerate(((3.0, 1.0), (2.5, 1.2), (2.0, 1.1), (None, 1.0), (2.8, 0.9))):
        runs.append(_run("dat", s, 9.0, correctness=_corr([1.0], [True], [1.0], [True], dat)))
        runs.append(_run(lipschitz.MATCHED, s, 9.0, correctness=_corr([1.0], [True], [1.0], [True], gp)))
    cell = lipschitz.comparisons(runs)[("adaptive", "gan")]
    # differences DAT - 0-GP (higher is better): 2.0, 1.3, 0.9, 1.9 -> mean 1.525; seed 3 dropped and listed
    assert cell.seeds == (0, 1, 2, 4) and cell.effect == pytest.approx(1.525) and not cell.lower_is_better
    assert cell.undefined_seeds == (3,) and cell.undefined.startswith("a ratio undefined")
    assert cell.degenerate is None and cell.test == "paired t"


def test_adaptivity_cell_is_degenerate_when_no_seed_has_a_ratio():
    runs = [_run(reg, s, 9.0, correctness=_corr([1.0], [True], [1.0], [True], None))
            for s in range(3) for reg in ("dat", lipschitz.MATCHED)]
    cell = lipschitz.comparisons(runs)[("adaptive", "gan")]
    assert cell.degenerate.startswith("undefined: a ratio undefined") and cell.undefined_seeds == (0, 1, 2)
    assert stats.kind_of(cell.degenerate) == "undefined"
    assert lipschitz.fmt_defined([float("nan")] * 2) == "undefined"
    assert lipschitz.fmt_defined([1.0, float("nan"), 3.0], 1) == "2.0 ± 1.4 (2 of 3 seeds)"


def test_split_means_by_correctness():
    run = {"correctness": _corr([1.0, 3.0], [True, False], [2.0, 6.0], [True, False], 3.0)}
    assert lipschitz._split_means(run) == (1.5, 4.5, 0.5)


def test_measure_correctness_on_a_tiny_run(tmp_path):
    """The end-of-run measurement: fixed held-out reals and latents, per-example norms, stored in result.json."""
    overrides = dict(n_iter=20, log_every=10, batch_size=16, checkpoint_every=0, sample_every=0, verbose=0,
                     run_dir=str(tmp_path / "run"), seed=3)
    spec = runner.RunSpec.make(os.path.join(ROOT, "configs", "toy_balanced_dat.flags"), overrides, final_eval=False,
                               correctness_batches=2)
    result = runner.run_one(spec)
    c = result["correctness"]
    assert (c["batches"], c["batch_size"]) == (2, 16)
    assert len(c["real"]["norm"]) == len(c["fake"]["correct"]) == 32
    assert all(n >= 0 for n in c["real"]["norm"] + c["fake"]["norm"])
    right, wrong, share = lipschitz._split_means({"correctness": c})
    if 0 < share < 1:
        assert c["ratio"] == pytest.approx(wrong / right)
    # the spec records the measurement; a spec without it keeps the old JSON shape (stored runs still match)
    assert spec.to_json()["correctness_batches"] == 2
    assert "correctness_batches" not in runner.RunSpec.make("x.flags", {"run_dir": "r"}).to_json()


def test_lipschitz_needs_the_main_arm(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="run the table3 section first"):
        lipschitz.run_section(opts)
    common.write_section(opts, "table3", {"data": {"runs": [_run("dat", 0, 1.0, arm="other")], "readings": {}}})
    with pytest.raises(RuntimeError, match="no main-arm runs"):
        lipschitz.run_section(opts)


def test_rank_cells_compare_margin_norm_correlations_lower_is_better():
    """Where the ratio is undefined (D right everywhere), the rank correlation still compares the arms."""
    runs = []
    for s, (dat, gp) in enumerate(((-0.6, -0.1), (-0.4, 0.0), (-0.5, -0.2), (-0.7, 0.1), (None, 0.0))):
        for reg, rho in (("dat", dat), (lipschitz.MATCHED, gp)):
            c = _corr([1.0], [True], [1.0], [True], None)
            c["rank_corr"] = rho
            runs.append({"row": "gan", "reg": reg, "seed": s, "logs": [], "correctness": c})
    cells = lipschitz.comparisons(runs)
    assert cells[("adaptive", "gan")].degenerate  # the ratio cannot measure it here
    cell = cells[("rank", "gan")]
    # paired differences (0-GP - DAT, lower is better so + = DAT lower): 0.5, 0.4, 0.3, 0.8 -> mean 0.5; seed 4 dropped
    assert cell.seeds == (0, 1, 2, 3) and cell.effect == pytest.approx(0.5) and cell.lower_is_better


def test_the_first_studys_stored_section_reads_as_not_rerun():
    old = {"runs": [{"row": "gan", "reg": "dat", "seed": 0, "logs": []}]}  # no end-of-run measurement key
    lines, claims, overall = lipschitz.section_markdown(None, {"data": old})
    assert overall == "not rerun" and claims == [] and "spectral normalization" in lines[0]


def test_a_dat_arm_that_did_not_learn_loses_its_norm_cells():
    """The WGAN row's DAT collapsed (IS 1) while None learned: its D's smaller norm does not win the cell."""
    runs = []
    for s in range(5):
        runs += [_run("none", s, 60.0 + s, row="wgan", logs=[{"step": 100, "grad_norm_real": 5000.0 + s,
                                                               "grad_norm_fake": 5000.0}]),
                 _run("dat", s, 320.0, row="wgan", final_is=1.0,
                      logs=[{"step": 100, "grad_norm_real": 300.0 + 7 * s, "grad_norm_fake": 80.0,
                             "perturbation_ratio": 20.0}]),
                 _run("zero_gp", s, 9.0, row="wgan", logs=[{"step": 100, "grad_norm_real": 0.05 + 0.01 * s,
                                                            "grad_norm_fake": 0.05}])]
    cells = verdicts.decide(lipschitz.comparisons(runs))
    vs_none = cells[("none", "wgan", "real")]
    assert vs_none.comparison.effect > 4000  # by the metric alone DAT would win
    assert (vs_none.outcome, vs_none.failed_arm) == ("worse", "method")
    assert cells[("zero_gp", "wgan", "real")].outcome == "worse"
    assert lipschitz.cannot_move(runs, "wgan", "dat", "none") == (None, "method")


def test_a_dat_arm_that_did_not_learn_loses_its_ratio_cell_even_where_the_ratio_is_undefined():
    """A collapsed critic wrong on every example has no wrong/right ratio: the cell is lost, not set apart."""
    runs = []
    for s in range(5):
        runs += [_run("none", s, 60.0, row="wgan"),
                 _run("dat", s, 320.0, row="wgan", final_is=1.0,
                      correctness=_corr([2.0], [False], [2.0], [False], None)),
                 _run(lipschitz.MATCHED, s, 9.0, row="wgan",
                      correctness=_corr([1.0], [True], [1.5], [False], 1.5 if s < 2 else None))]
    cells = verdicts.decide(lipschitz.comparisons(runs))
    cell = cells[("adaptive", "wgan")]
    assert (cell.outcome, cell.failed_arm) == ("worse", "method")
    assert cell.comparison.undefined_seeds == (0, 1, 2, 3, 4) and cell.comparison.degenerate is None
    assert cell.family == len(cells)  # counted in Holm's family (its p is NaN: counted as 1)
    assert cell.seeds == 5  # it rests on the 5 seeds where DAT did not learn, not on the 0 it could pair
    # the same runs with a DAT that learned: the cell cannot measure the claim and is set apart
    learned = [dict(r, final=dict(r["final"], fid_train=9.0, **{"is": 6.0})) if r["reg"] == "dat" else r
               for r in runs]
    cell = verdicts.decide(lipschitz.comparisons(learned))[("adaptive", "wgan")]
    assert cell.outcome == "degenerate" and stats.kind_of(cell.note) == "undefined"


def test_the_claim_ranks_dat_among_the_paper_s_nine_columns_not_the_table_s_eleven():
    fids = {"none": 20.0, "gp": 12.0, "dat": 10.0, "datt": 11.0, "dat_reference": 5.0, "datt_reference": 6.0}
    runs = [_run(reg, s, fid + 0.1 * s) for reg, fid in fids.items() for s in range(3)]
    lines = []
    table3._fid_table(runs, "main", table3.MAIN_COLUMNS, lines)
    row = [c.strip() for c in next(line for line in lines if line.startswith("| GAN")).split("|")[1:-1]]
    dat_cell = row[2 + table3.MAIN_COLUMNS.index("dat")]
    assert dat_cell.endswith("(#3)")  # the table ranks all eleven: both reference columns are better
    assert table3.nine_ranks(runs, "gan") == {"none": 4.0, "gp": 3.0, "dat": 1.0, "datt": 2.0}


def test_a_partial_section_renders_and_its_overall_verdict_names_each_claim_it_summarises(tmp_path):
    # Only the central columns, and no LSGAN row yet (a section killed midway): the page and its plots still
    # render, and with no "best of the nine" claim the overall line must not say so.
    fids = {"none": 20.0, "dat": 10.0, "zero_gp": 12.0, "gp": 11.0}
    runs = [_run(reg, s, fid + 0.5 * s, row=row, curve=[{"step": 10, "fid_train": fid}], eval_samples=100)
            for row in ("gan", "wgan") for reg, fid in fids.items() for s in range(3)]
    opts = study.StudyOptions(out_dir=str(tmp_path))
    _, claims, overall = table3.section_markdown(opts, {"data": {"runs": runs, "resolution": 16}})
    texts = [c.text for c in claims]
    assert len(texts) == 2 and not any("best FID of the nine" in t for t in texts)
    assert overall == "; ".join(f"{c.verdict.word} ({c.text})" for c in claims)
    assert "nine" not in overall
    assert all(os.path.isfile(os.path.join(opts.artefacts, f)) for f in ("table3.png", "table3_curves.png"))
