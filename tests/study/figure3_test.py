"""Figure 3's section: the mode mass error, the methods per std, the cells and the epsilon sweep's own family."""

import dataclasses
import math
import os

import numpy as np
import pytest

from dat_tf import data
from dat_study import figure3, study
from dat_tf.metrics.mixture import mixture_metrics

MODES = data.mixture_modes()


def test_mode_mass_error_hand_worked_and_a_lost_small_mode():
    # balanced: mode 0 holds 2 of 10 samples, each other mode 1: (|0.2 - 1/9| + 8 |0.1 - 1/9|) * 9 / 9 = 1.6 / 9
    x = np.repeat(MODES, [2, 1, 1, 1, 1, 1, 1, 1, 1], axis=0)
    assert mixture_metrics(x)["mode_mass_error"] == pytest.approx(1.6 / 9)
    # imbalanced (columns 0.15, 0.05, 0.8): the three small modes lost, the rest in proportion
    p = data.mixture_weights("imbalanced")
    counts = np.round(p * 3000).astype(int)
    counts[3:6] = 0
    m = mixture_metrics(np.repeat(MODES, counts, axis=0), kind="imbalanced")
    # the others' shares are scaled by 1 / 0.95
    assert m["mode_mass_error"] == pytest.approx((3 * 1.0 + 6 * abs(1 / 0.95 - 1)) / 9, rel=1e-6)
    # KL(q||p) = log(1 / 0.95): a lost 5% of the mass is all it sees; the mass error counts each lost mode as 1/9
    assert m["kl"] == pytest.approx(math.log(1 / 0.95), rel=1e-6) and m["kl"] < 0.06 < 0.3 < m["mode_mass_error"]


@pytest.mark.parametrize("std, floor", [(math.sqrt(0.1), 0.45), (0.1, 0.15)])
def test_mass_error_does_not_saturate_where_modes_covered_does(std, floor):
    a = mixture_metrics(data.sample_mixture(2500, "imbalanced", std, seed=0), kind="imbalanced", std=std)
    b = mixture_metrics(data.sample_mixture(2500, "balanced", std, seed=0), kind="imbalanced", std=std)
    assert a["modes_covered"] == b["modes_covered"] == 9  # the wrong mixture covers every mode too
    # the right mixture scores near its floor (overlap makes it ~0.35 at std 0.316), the wrong one far above
    assert a["mode_mass_error"] < floor < 2.0 < b["mode_mass_error"]  # b: the 0.8 column holds 1/3, the 0.05 one 1/3
    assert figure3.reference_mass_error("imbalanced", std, 2500) == pytest.approx(a["mode_mass_error"], abs=0.1)


def test_methods_per_std_and_the_fixed_sweep():
    assert figure3.EPS_SWEEP == {0.1: "dat_eps0.1", 0.3: "dat_eps0.3", 1.0: "dat"} and figure3.SWEEP_STD == 0.1
    assert figure3.section_methods(None) == ("none", "dat", "dat_reference")
    assert figure3.section_methods(0.1) == ("none", "dat", "dat_reference", "dat_eps0.1", "dat_eps0.3")
    assert figure3.METHODS["dat_eps0.3"] == ("_dat", {"dat_epsilon": 0.3})
    assert study.StudyOptions().figure3_stds == (None, 0.1) and study.StudyOptions().figure3_seeds == (0, 1, 2, 3, 4)


def _entry(mixture, method, step, mass, modes, seeds=(0, 1, 2, 3, 4)):
    return {"mixture": mixture, "method": method, "step": step, "seed_list": list(seeds),
            "mode_mass_error": {"values": list(mass)}, "modes_covered": {"values": list(modes)},
            "kl": {"values": [0.0] * len(seeds)}, "perturbation_norm": {"values": [0.5] * len(seeds)},
            "perturbation_ratio": {"values": [0.5] * len(seeds)}}


def _variant(std):
    table = []
    for method, shift in (("none", 0.0), ("dat", -0.1), ("dat_reference", 0.0), ("dat_eps0.1", 0.2),
                          ("dat_eps0.3", 0.0)):
        for mixture in figure3.MIXTURES:
            mass = [0.3 + shift + 0.01 * i * i for i in range(5)]
            modes = [9, 9, 9, 9, 9] if mixture == "balanced" else [6 + (method == "dat"), 7, 8, 7, 6]
            table.append(_entry(mixture, method, 100, mass, modes))
    return {"std": std, "table": table, "seeds": [0, 1, 2, 3, 4], "tag": "t", "seconds": 1.0}


def test_cells_are_mass_error_and_modes_and_the_sweep_is_apart():
    variants = [_variant(0.1)]
    cells = figure3.comparisons(variants)
    assert {k[1] for k in cells} == {"dat", "dat_reference"} and {k[4] for k in cells} == {"mode_mass_error",
                                                                                             "modes_covered"}
    c = cells[(0.1, "dat", "imbalanced", 100, "mode_mass_error")]
    assert c.effect == pytest.approx(0.1) and c.lower_is_better  # 0.1 lower with DAT in every seed
    assert cells[(0.1, "dat", "balanced", 100, "modes_covered")].degenerate.startswith("saturated")
    # imbalanced modes: DAT covers one more mode in seed 0 only
    assert cells[(0.1, "dat", "imbalanced", 100, "modes_covered")].effect == pytest.approx(0.2)
    sweep = figure3.sweep_comparisons(variants)
    assert {k[1] for k in sweep} == {"dat_eps0.1", "dat_eps0.3", "dat"}
    assert sweep[(0.1, "dat_eps0.1", "balanced", 100, "mode_mass_error")].effect == pytest.approx(-0.2)
    assert figure3.sweep_comparisons([_variant(0.316)]) == {}  # the sweep runs at std 0.1 only


def test_section_page_states_the_perturbation_against_the_spacing(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path))
    sec = {"data": {"variants": [dict(_variant(0.1), num_samples=2500, checkpoints=[100])], "seeds": [0, 1, 2, 3, 4]}}
    lines, claims, overall = figure3.section_markdown(opts, sec)
    text = "\n".join(lines)
    assert "| 0.100 | imbalanced | DAT (paper) | 0.5000 ± 0.0000 | 0.5000 ± 0.0000 | 1.000 |" in text  # norm, share, / 0.5
    assert "Epsilon sweep at std 0.1" in text
    typed = [c for c in claims if not isinstance(c, str)]
    assert [c.text for c in typed] == [f"std 0.100, {m} mixture: {t} fits faster and better than GAN"
                                      for t in ("DAT (paper)", "DAT (reference)") for m in ("balanced", "imbalanced")]
    assert sum(isinstance(c, str) and c.startswith("Epsilon sweep") for c in claims) == 6


def test_a_finished_run_is_reused_and_another_job_starts_afresh(tmp_path, monkeypatch):
    from dat_tf.train import loop

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    opts = figure3.Figure3Options(configs_dir=os.path.join(root, "configs"), seeds=(0,), checkpoints=(10, 20),
                                  num_samples=50, workers=1, runs_dir=str(tmp_path))
    first = figure3._job(("imbalanced", "dat_eps0.1", 0, opts))
    assert [r["step"] for r in first["rows"]] == [10, 20] and sorted(first["samples"]) == [10, 20]
    assert first["perturbation_norm"] and all(r["perturbation_norm"] > 0 for r in first["perturbation_norm"])
    monkeypatch.setattr(loop, "train", lambda *a, **k: pytest.fail("trained again"))
    again = figure3._job(("imbalanced", "dat_eps0.1", 0, opts))
    assert again.pop("reused") is True and "reused" not in first  # said, so that progress lines skip its time
    assert again == first
    monkeypatch.undo()
    other = figure3._job(("imbalanced", "dat_eps0.1", 0, dataclasses.replace(opts, checkpoints=(10,))))
    assert [r["step"] for r in other["rows"]] == [10]  # another job in the same folder: trained afresh
