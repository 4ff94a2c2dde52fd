"""The study's Figure 1 section: both arms planned alike, the summary and cells, reproduce and resume."""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.train.config import TrainConfig
from dat_tf.data.digits import load_digits_array
from dat_tf.nets import dcgan_discriminator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bin", "attack.py")


def _cli(args, timeout=300):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout)


def _linear_problem(linear_d, rng, dim=16, bias=0.1, per_step=0.031):
    """A linear critic w.x + b and the step alpha that moves it by ``per_step``."""
    w = rng.normal(size=dim).astype(np.float32)
    w[3] = 0.0  # a pixel D ignores: sign(0) = 0, it never moves
    alpha = per_step / np.abs(w).sum()
    return linear_d(w, bias), w, bias, float(alpha)


def test_plan_both_arms_batchnorm_free_and_the_fixed_step_grid():
    from dat_study.figure1 import STEP_SIZES, Figure1Options, attack_jobs, train_configs

    assert STEP_SIZES == (1 / 255, 2 / 255, 4 / 255, 8 / 255)  # half, one, two, four grey levels: fixed
    opts = Figure1Options(out_dir="o", runs_dir="r")
    configs = [TrainConfig(**c).validate() for c in train_configs(opts)]
    assert [(c.regularizer, c.seed) for c in configs] == [(reg, s) for s in range(5) for reg in ("none", "dat")]
    assert all((c.d_batch_norm, c.image_resolution(), c.n_iter, c.loss) == (False, 32, 2000, "ns") for c in configs)
    dat = configs[1].build_regularizer()
    assert (dat.variant, dat.epsilon) == ("paper", 1.0)  # the paper's DAT, its defaults
    # the arms differ in the regularizer only
    a, b = (dict(c) for c in train_configs(opts)[:2])
    assert {k for k in a if a[k] != b[k]} == {"regularizer", "run_dir"}
    jobs = attack_jobs(opts)
    assert [j["run_dir"] for j in jobs] == [c.run_dir for c in configs]
    assert [j.get("png") for j in jobs[:2]] == [os.path.join("o", "none.png"), os.path.join("o", "dat.png")]
    assert all("png" not in j and j["step_sizes"] == list(STEP_SIZES) for j in jobs[2:])


def test_the_attacked_discriminator_is_the_trained_function(rng):
    from dat_study.figure1 import Figure1Options, train_configs
    from dat_tf.train.loop import build_gan

    cfg = TrainConfig(**train_configs(Figure1Options(resolution=8))[0]).validate()
    d = build_gan(cfg).discriminator
    assert not [layer for layer in d.layers if isinstance(layer, keras.layers.BatchNormalization)]
    x = rng.uniform(-1, 1, size=(6, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(d(x, training=True).numpy(), d(x, training=False).numpy(), rtol=1e-6, atol=1e-6)
    # each example is scored on its own
    np.testing.assert_allclose(d(x[2:3], training=True).numpy()[0], d(x, training=True).numpy()[2], atol=1e-6)


def _line(reg, train_seed, step, seed, g_step=20, **values):
    base = dict(regularizer=reg, train_seed=train_seed, step=step, seed=seed, step_of_model=g_step, tol=0.02, num=4,
                resolution=8, max_iters=200, k_fake=1.0, k_real=1.0, k_per_gap_fake=10.0, k_per_gap_real=10.0,
                k_per_gap_successful_fake=10.0, k_per_gap_successful_real=10.0,
                rate_fake=0.1, rate_real=0.1, initial_gap=0.3, success_fake=1.0, success_real=1.0)
    return dict(base, **values)


def test_summary_takes_final_models_and_averages_eval_seeds_per_step_size():
    from dat_study.figure1 import summarize_attack

    rows = [
        _line("none", 0, 0.1, 0, g_step=10, k_fake=99.0),  # an earlier model: ignored
        _line("none", 0, 0.1, 0, k_fake=2.0, rate_fake=None), _line("none", 0, 0.1, 1, k_fake=4.0, rate_fake=0.2),
        _line("none", 1, 0.1, 0, k_fake=6.0, rate_fake=None),
        _line("none", 0, 0.2, 0, k_fake=1.0),
        _line("dat", 0, 0.1, 0, k_fake=5.0),
    ]
    out = {(r["regularizer"], r["step_size"]): r for r in summarize_attack(rows)}
    assert out[("none", 0.1)]["k_fake"] == [3.0, 6.0] and out[("none", 0.1)]["seeds"] == [0, 1]
    assert out[("none", 0.1)]["rate_fake"] == [0.2, None]  # None where no example of a run moved
    assert out[("none", 0.1)]["eval_seeds"] == [0, 1] and out[("none", 0.1)]["step"] == 20
    assert out[("none", 0.2)]["k_fake"] == [1.0] and out[("dat", 0.1)]["k_fake"] == [5.0]


def test_cells_per_step_size_for_the_claims_measures_hand_worked():
    from dat_study.figure1 import comparisons, summarize_attack

    rows = []
    for seed, (g_none, g_dat) in enumerate([(20.0, 30.0), (21.0, 33.0), (22.0, 31.0)]):
        rows += [_line("none", seed, 0.1, 0, k_per_gap_successful_fake=g_none, k_per_gap_successful_real=5.0,
                       success_fake=0.9, success_real=1.0),
                 _line("dat", seed, 0.1, 0, k_per_gap_successful_fake=g_dat, k_per_gap_successful_real=5.0,
                       success_fake=0.5 + 0.01 * seed, success_real=1.0)]
    cells = comparisons(summarize_attack(rows))
    assert set(cells) == {(0.1, k) for k in ("k_per_gap_successful_fake", "k_per_gap_successful_real",
                                             "success_fake", "success_real")}
    # K per gap (fooled), higher is better: dat - none = 10, 12, 9
    assert cells[(0.1, "k_per_gap_successful_fake")].effect == pytest.approx(31 / 3)
    # the success rate, lower is better for DAT: none - dat = 0.4, 0.39, 0.38
    assert cells[(0.1, "success_fake")].effect == pytest.approx(0.39)
    assert cells[(0.1, "k_per_gap_successful_real")].degenerate == "no difference in any seed (zero paired spread)"
    # every run starts within the tolerance: no headroom
    flat = [dict(r, initial_gap=0.01) for r in rows]
    assert all(c.degenerate.startswith("no headroom") for c in comparisons(summarize_attack(flat)).values())
    # an inactive DAT (its perturbation under 1% of the inputs' norm) makes every cell inactive
    trained = [{"regularizer": reg, "seed": s, "final": {"fid_train": 20.0, "is": 6.0},
                "perturbation_ratio": 0.002 if reg == "dat" else 0.0} for reg in ("none", "dat") for s in range(3)]
    assert all(c.degenerate.startswith("inactive: DAT's perturbation is 0.002")
               for c in comparisons(summarize_attack(rows), trained).values())
    # the baseline GAN did not learn: failed
    trained = [dict(t, final={"fid_train": 300.0, "is": 1.0}) if t["regularizer"] == "none" else t for t in trained]
    trained = [dict(t, perturbation_ratio=0.05) if t["regularizer"] == "dat" else t for t in trained]
    assert all(c.degenerate.startswith("failed: Figure 1's GAN's arm without a regularizer did not learn")
               for c in comparisons(summarize_attack(rows), trained).values())


def test_versions_line_says_one_version_or_lists_them():
    from dat_study.figure1 import _versions_line

    assert "one code version, `abc`" in _versions_line({"a": ["abc"], "b": ["abc"]})
    assert "2 code versions" in _versions_line({"a": ["abc"], "b": ["def"]})
    assert "1 runs have no record" in _versions_line({"a": ["abc"], "b": []})
    assert "2 code versions" in _versions_line({"a": ["abc", "def"]})  # one run resumed by another version
    # the runs' own results win over the per-invocation records (lost when a pass is killed before it ends)
    trained = [{"code_version": "abc", "date": "2026-12-07 14:29 UTC"}, {"code_version": "def", "date": "2026-12-07 "
               "16:05 UTC"}, {"code_version": "def", "date": "2026-12-07 15:17 UTC"}]
    line = _versions_line({"a": [], "b": ["def"], "c": ["def"]}, trained)
    assert line == ("The 3 runs were finished from 2026-12-07 14:29 UTC to 2026-12-07 16:05 UTC by code `abc` (1 runs), "
                    "`def` (2 runs).")


def test_reproduce_trains_both_arms_attacks_every_step_and_resumes(tmp_path, monkeypatch):
    from dat_study import figure1

    opts = figure1.Figure1Options(out_dir=str(tmp_path / "out"), runs_dir=str(tmp_path / "runs"), train_seeds=(0,),
                                  n_iter=20, resolution=8, step_sizes=(2 / 255, 8 / 255), eval_seeds=(0, 1), num=4,
                                  workers=1)
    monkeypatch.setattr(figure1, "code_version", lambda: "v1")
    out = figure1.reproduce(opts, log=lambda msg: None)
    lines = figure1.read_results(tmp_path / "out" / "results.jsonl")
    assert lines == out["lines"] and len(lines) == 2 * 2 * 2  # runs x step sizes x evaluation seeds
    assert {(x["regularizer"], x["step"], x["seed"], x["step_of_model"], x["d_batch_norm"]) for x in lines} == {
        (r, s, e, 20, False) for r in ("none", "dat") for s in (2 / 255, 8 / 255) for e in (0, 1)}
    assert all(x["k_per_gap_fake"] is None or x["k_per_gap_fake"] > 0 for x in lines)
    assert [x["png"] for x in lines if "png" in x] == [str(tmp_path / "out" / f"{r}.png") for r in ("none", "dat")]
    assert out["code_versions"] == {str(tmp_path / "runs" / f"{r}_seed0"): ["v1"] for r in ("none", "dat")}
    assert (tmp_path / "out" / "tables.md").read_text() == figure1.tables_markdown(lines)
    # Each line is what bin/attack.py prints for the same run, seed and step.
    line = dict(next(x for x in lines if x["seed"] == 1 and x["step"] == 8 / 255))
    cli = _cli([f"--run_dir={line['run_dir']}", "--num=4", "--seed=1", f"--step_size={8 / 255!r}"])
    assert cli.returncode == 0, cli.stderr[-3000:]
    printed = json.loads(next(x for x in cli.stdout.splitlines() if x.startswith("{")))
    per_example = line.pop("per_example")  # the study's lines also keep every example's counts
    assert len(per_example["gap0"]) == 4 and len(per_example["fake"]["k"]) == 4
    assert printed.keys() == line.keys()
    for key, value in printed.items():
        assert line[key] == (pytest.approx(value, rel=1e-5) if isinstance(value, float) else value), key
    # A rerun trains nothing and attacks nothing: the finished runs and their attack lines are reused.
    monkeypatch.setattr(figure1, "code_version", lambda: "v2")
    from dat_tf.train import attack

    monkeypatch.setattr(attack, "attack_model", lambda *a, **k: pytest.fail("attacked again"))
    again = figure1.reproduce(opts, log=lambda msg: None)
    assert again["lines"] == lines and set(map(tuple, again["code_versions"].values())) == {("v1",)}


def test_reproduce_refuses_bad_options_before_work(tmp_path):
    from dat_study.figure1 import Figure1Options, reproduce

    for kwargs, message in [(dict(n_iter=0), "n_iter must be an integer >= 1, got 0"),
                            (dict(step_sizes=(0.01, -1.0)), r"step_sizes must be finite numbers > 0, got \[-1.0\]"),
                            (dict(train_seeds=(0, 0)), r"train_seeds must be distinct integers >= 0, got \[0, 0\]"),
                            (dict(eval_seeds=()), "must not be empty")]:
        with pytest.raises(ValueError, match=message):
            reproduce(Figure1Options(out_dir=str(tmp_path / "o"), runs_dir=str(tmp_path / "r"), **kwargs))
    assert not os.listdir(tmp_path)
