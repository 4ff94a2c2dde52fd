"""Figure 1's attack (dat_tf.metrics.attack, dat_tf.train.attack): closed forms on linear critics, D's state, a
trained run, the CLI."""

import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.metrics.attack import make_score_fn, resolve_score, targeted_attack
from dat_tf.train.attack import attack_run, real_examples
from dat_tf.train.config import TrainConfig
from dat_tf.data.digits import load_digits_array
from dat_tf.nets import dcgan_discriminator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bin", "attack.py")
TOL = 0.02


def _linear_problem(linear_d, rng, dim=16, bias=0.1, per_step=0.031):
    """A linear critic w.x + b and the step alpha that moves it by ``per_step``."""
    w = rng.normal(size=dim).astype(np.float32)
    w[3] = 0.0  # a pixel D ignores: sign(0) = 0, it never moves
    alpha = per_step / np.abs(w).sum()
    return linear_d(w, bias), w, bias, float(alpha)


# ------------------------------------------------------ closed forms


@pytest.mark.parametrize("clip", [None, (-100.0, 100.0)], ids=["no_clip", "wide_clip"])
def test_linear_logit_iterations_match_closed_form(linear_d, rng, clip):
    max_iters, c = 40, 0.031  # c = alpha * ||w||_1 <= 2 tol: the gap shrinks by c per step, no overshoot
    d, w, b, alpha = _linear_problem(linear_d, rng, per_step=c)
    gaps = np.array(
        [0.0, 0.015, -0.019, 0.5, -0.73, 0.3071, -1.1, TOL + (max_iters - 0.5) * c, 5.0, -3.0], np.float64
    )  # s(x) - t; the last two cannot close within the cap; the one before needs exactly max_iters steps
    expected = np.maximum(0, np.ceil((np.abs(gaps) - TOL) / c)).astype(int)
    margin = (np.abs(gaps) - TOL) / c
    assert np.all(np.abs(margin[expected > 0] - np.round(margin[expected > 0])) > 0.05), "ill-posed gaps"
    x = rng.normal(size=(len(gaps), w.size)).astype(np.float32)
    s0 = x.astype(np.float64) @ w + b
    targets = (s0 - gaps).astype(np.float32)

    x_adv, iters, ok = targeted_attack(make_score_fn(d, "logit"), x, targets, alpha, TOL, max_iters, clip)
    iters, ok, x_adv = iters.numpy(), ok.numpy(), x_adv.numpy()

    np.testing.assert_array_equal(iters, np.minimum(expected, max_iters))
    np.testing.assert_array_equal(ok, expected <= max_iters)
    assert iters[0] == iters[1] == iters[2] == 0 and iters[7] == max_iters and ok[7]
    assert list(ok[-2:]) == [False, False] and list(iters[-2:]) == [max_iters, max_iters]
    # Each step is -alpha * sign(gap) * sign(w); an example stops moving once it succeeds.
    moved = x - iters[:, None] * alpha * np.sign(gaps)[:, None] * np.sign(w)[None, :]
    np.testing.assert_allclose(x_adv, moved, atol=1e-5)
    final_gap = x_adv.astype(np.float64) @ w + b - targets
    assert np.all(np.abs(final_gap[ok]) <= TOL + 1e-5)
    np.testing.assert_allclose(np.abs(final_gap[~ok]), np.abs(gaps[~ok]) - max_iters * c, atol=1e-4)


def test_linear_sigmoid_score_with_clip_matches_numpy_loop(linear_d, rng):
    dim, max_iters = 16, 30
    w = rng.normal(size=dim).astype(np.float32)
    b, alpha = 0.2, 0.03
    d = linear_d(w, b)
    x = rng.uniform(-1, 1, size=(12, dim)).astype(np.float32)
    targets = rng.uniform(0.02, 0.98, size=12).astype(np.float32)
    targets[0] = 1.0 / (1.0 + np.exp(-(x[0].astype(np.float64) @ w + b)))  # already there
    x[1] = -np.sign(w)  # from the far corner of the box, logit -||w||_1 + b, a logit of ~4 ...
    targets[1] = 0.999  # ... is more than max_iters * alpha * ||w||_1 away: capped

    # The same loop in numpy: d|sigmoid(l) - t|/dx = sign(sigmoid(l) - t) * sigmoid'(l) * w.
    xs, its = x.astype(np.float64).copy(), np.zeros(12, int)
    for i in range(12):
        for _ in range(max_iters):
            gap = 1.0 / (1.0 + np.exp(-(xs[i] @ w + b))) - targets[i]
            if abs(gap) <= TOL:
                break
            xs[i] = np.clip(xs[i] - alpha * np.sign(gap) * np.sign(w), -1.0, 1.0)
            its[i] += 1
    final = np.abs(1.0 / (1.0 + np.exp(-(xs @ w + b))) - targets)

    x_adv, iters, ok = targeted_attack(make_score_fn(d, "sigmoid"), x, targets, alpha, TOL, max_iters, (-1.0, 1.0))
    np.testing.assert_array_equal(iters.numpy(), its)
    np.testing.assert_array_equal(ok.numpy(), final <= TOL)
    np.testing.assert_allclose(x_adv.numpy(), xs, atol=1e-5)
    assert its[0] == 0 and not ok.numpy()[1] and its[1] == max_iters
    assert 0 < ok.numpy().mean() < 1 and len(set(its)) > 3  # a non-trivial mix
    assert np.all(np.abs(x_adv.numpy()) <= 1.0)
    _, unclipped, _ = targeted_attack(make_score_fn(d, "sigmoid"), x, targets, alpha, TOL, max_iters, None)
    assert np.any(unclipped.numpy() != its)  # the box did bind on this problem


def test_attack_leaves_discriminator_state_unchanged_and_examples_independent(rng):
    d = dcgan_discriminator(resolution=8, channels=1, width=8, batch_norm=True, spectral_norm=True)
    x = rng.uniform(-1, 1, size=(6, 8, 8, 1)).astype(np.float32)
    d(x, training=True)  # moving statistics away from their initial values
    before = [v.numpy().copy() for v in d.variables]
    score_fn = make_score_fn(d, "sigmoid")
    targets = score_fn(x).numpy()[::-1].copy()
    x_adv, iters, _ = targeted_attack(score_fn, x, targets, 2 / 255, tol=0.001, max_iters=25)
    assert iters.numpy().max() > 0 and not np.allclose(x_adv.numpy(), x)
    for v, old in zip(d.variables, before):
        np.testing.assert_array_equal(v.numpy(), old, err_msg=v.path)
    # Inference mode: an example's attack does not depend on the rest of its batch.
    alone, it_alone, _ = targeted_attack(score_fn, x[2:3], targets[2:3], 2 / 255, tol=0.001, max_iters=25)
    assert it_alone.numpy()[0] == iters.numpy()[2]
    np.testing.assert_allclose(alone.numpy()[0], x_adv.numpy()[2], atol=1e-6)
    # The check above can fail: a training-mode pass does change this D (BatchNorm, spectral norm).
    d(x_adv, training=True)
    assert any(not np.array_equal(v.numpy(), old) for v, old in zip(d.variables, before))


def test_resolve_score_and_argument_errors(linear_d):
    assert [resolve_score("auto", n) for n in ("ns", "minimax", "wgan", "hinge", "lsgan")] == [
        "sigmoid", "sigmoid", "logit", "logit", "logit"
    ]
    assert resolve_score("logit", "ns") == "logit" and resolve_score("sigmoid", "wgan") == "sigmoid"
    with pytest.raises(ValueError, match="'prob'"):
        resolve_score("prob", "ns")
    fn = make_score_fn(linear_d([1.0, 1.0]), "logit")
    x, t = np.zeros((2, 2), np.float32), np.zeros(2, np.float32)
    for kwargs, message in [
        ({"step": 0.0}, "step must be"),
        ({"step": 0.1, "tol": -0.1}, "tol must be"),
        ({"step": 0.1, "max_iters": 2.5}, "max_iters must be"),
        ({"step": 0.1, "clip": (1.0, -1.0)}, "clip must be"),
    ]:
        with pytest.raises(ValueError, match=message):
            targeted_attack(fn, x, t, **kwargs)
    with pytest.raises(ValueError, match="3 entries but x holds 2"):
        targeted_attack(fn, x, np.zeros(3), step=0.1)


# ------------------------------------------------------ a trained run, and the CLI


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from dat_tf.train.loop import train

    run_dir = str(tmp_path_factory.mktemp("attack") / "run")
    cfg = TrainConfig(dataset="digits", net="dcgan", width=8, latent_dim=16, batch_size=16, n_iter=20, log_every=10,
                      checkpoint_every=10, steps_per_execution=1, verbose=0, sample_every=0, run_dir=run_dir)
    keras.utils.set_random_seed(0)
    train(cfg)
    return run_dir


def _cli(args, timeout=120):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _flags_agree(gaps, flags, slack=1e-5):
    """``gaps <= TOL`` equals ``flags`` wherever eager/graph rounding cannot flip the comparison."""
    clear = np.abs(gaps - TOL) > slack
    np.testing.assert_array_equal((gaps <= TOL)[clear], flags[clear])


def test_attack_run_examples_are_consistent(digits_run):
    res = attack_run(digits_run, num=10, seed=3, max_iters=30, score="logit", return_examples=True)
    ex = res.pop("examples")
    gan = keras.models.load_model(os.path.join(digits_run, "gan.keras"), compile=False)
    s = make_score_fn(gan.discriminator, "logit")
    assert res["score"] == "logit" and res["loss"] == "ns" and res["num"] == 10
    assert res["k_fake"] == pytest.approx(ex.iterations_fake.mean())
    assert res["success_real"] == pytest.approx(ex.success_real.mean())
    # A pair already within tol costs 0 steps both ways, and only such a pair does.
    gap0 = np.abs(s(ex.fake).numpy() - s(ex.real).numpy())
    assert res["initial_gap"] == pytest.approx(gap0.mean(), rel=1e-5)
    _flags_agree(gap0, ex.iterations_fake == 0)
    _flags_agree(gap0, ex.iterations_real == 0)
    assert res["initially_within_tol"] == pytest.approx(np.mean(gap0 <= TOL))
    moved = ex.iterations_fake > 0
    assert moved.any()
    closed = gap0 - np.abs(s(ex.fake_adv).numpy() - s(ex.real).numpy())
    assert res["rate_fake"] == pytest.approx(np.mean(closed[moved] / ex.iterations_fake[moved]), rel=1e-4)
    for clean, adv, iters in ((ex.fake, ex.fake_adv, ex.iterations_fake), (ex.real, ex.real_adv, ex.iterations_real)):
        assert clean.shape == adv.shape == (10, 8, 8, 1) and np.all(np.abs(adv) <= 1.0)
        linf = np.abs(adv - clean).reshape(10, -1).max(axis=1)
        assert np.all(linf <= iters * res["step"] + 1e-5)  # at most one step per pixel per iteration
    # Reals come from the digits training split; the success flags agree with D's scores.
    train_x, _ = load_digits_array(split="train")
    assert all(np.abs(train_x - r).reshape(len(train_x), -1).max(axis=1).min() < 1e-6 for r in ex.real)
    _flags_agree(np.abs(s(ex.fake_adv).numpy() - s(ex.real).numpy()), ex.success_fake)
    _flags_agree(np.abs(s(ex.real_adv).numpy() - s(ex.fake).numpy()), ex.success_real)


def test_real_examples_are_the_runs_first_examples(digits_run):
    from dat_tf.train.loop import build_dataset

    with open(os.path.join(digits_run, "config.json")) as f:
        cfg = TrainConfig.from_dict(json.load(f))
    keras.utils.set_random_seed(cfg.seed)  # what training does before it builds its pipeline
    first_batch = next(iter(build_dataset(cfg))).numpy()
    keras.utils.set_random_seed(99)  # the caller's global seed does not matter
    np.testing.assert_array_equal(real_examples(cfg, 12, cfg.seed), first_batch[:12])
    assert not np.array_equal(real_examples(cfg, 12, cfg.seed + 1), first_batch[:12])


def test_attack_run_at_a_checkpoint(digits_run):
    kwargs = dict(num=4, seed=0, max_iters=10, score="logit")
    final = attack_run(digits_run, **kwargs)
    assert final["step_of_model"] == 20
    at_20 = attack_run(digits_run, checkpoint=20, **kwargs)  # the same model as gan.keras
    assert at_20.keys() == final.keys()
    for key, value in final.items():  # pytest.approx takes numbers only (pytest >= 9.2 rejects strings in it)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert at_20[key] == pytest.approx(value, rel=1e-5), key
        else:
            assert at_20[key] == value, key
    early = attack_run(digits_run, checkpoint=10, **kwargs)
    assert early["step_of_model"] == 10 and early["score_fake_mean"] != final["score_fake_mean"]
    with pytest.raises(FileNotFoundError, match=r"checkpoint=7.*has steps \[10, 20\]"):
        attack_run(digits_run, checkpoint=7, **kwargs)


def test_cli_prints_json_and_writes_figure_png(digits_run, tmp_path):
    png = tmp_path / "fig" / "attack.png"
    out = _cli([f"--run_dir={digits_run}", "--num=6", "--seed=1", "--max_iters=30",
                f"--out={png}", "--png_columns=4", "--png_scale=2"])
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    res = json.loads(lines[0])
    for key in ("k_fake", "k_real", "success_fake", "success_real", "num", "step", "tol", "score", "k_per_gap_fake",
                "k_per_gap_real", "rate_fake", "rate_real"):
        assert key in res, key
    assert res["num"] == 6 and res["score"] == "sigmoid" and res["tol"] == TOL and res["max_iters"] == 30
    assert math.isclose(res["step"], 2 / 255)
    assert 0 <= res["k_fake"] <= 30 and 0 <= res["k_real"] <= 30 and 0 <= res["success_fake"] <= 1
    image = tf.io.decode_png(tf.io.read_file(str(png))).numpy()
    assert image.shape == (4 * 8 * 2, 4 * 8 * 2, 1)  # 4 rows (fake, fake adv, real, real adv) x 4 pairs


@pytest.mark.parametrize(
    "args, message",
    [
        (["--run_dir={run}", "--num=0"], "--num=0 is not allowed"),
        (["--run_dir=/nonexistent/run"], "--run_dir='/nonexistent/run' is not a directory"),
        (["--run_dir={empty}"], "has no config.json"),
        ([], "--run_dir is required"),
        (["--run_dir={run}", "--step_size=0"], "--step_size=0.0 is not allowed"),
        (["--run_dir={run}", "--tol=-1"], "--tol=-1.0 is not allowed"),
        (["--run_dir={run}", "--score=prob"], "--score='prob' is not allowed"),
        (["--run_dir={run}", "--out=fig.jpg"], "--out='fig.jpg' is not allowed"),
        (["--run_dir={run}", "--checkpoint=-3"], "--checkpoint='-3' is not allowed"),
    ],
)
def test_cli_rejects_bad_flags(digits_run, tmp_path, args, message):
    out = _cli([a.format(run=digits_run, empty=tmp_path) for a in args], timeout=60)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr[-2000:]


def test_steps_per_gap_hand_worked():
    from dat_tf.metrics.attack import steps_per_gap

    # K 0 for a pair within tol (not counted), 3 steps for a gap 0.1, 16 for 0.5: (30 + 32) / 2
    assert steps_per_gap([0, 3, 16], [0.01, 0.1, 0.5]) == pytest.approx(31.0)
    assert steps_per_gap([0, 0], [0.01, 0.015]) is None


def test_k_per_gap_on_a_linear_critic_matches_the_closed_form(linear_d, rng):
    from dat_tf.metrics.attack import steps_per_gap

    c = 0.031  # score change per step
    d, w, b, alpha = _linear_problem(linear_d, rng, per_step=c)
    gaps = np.array([0.01, 0.1, -0.5, 0.3071], np.float64)
    expected = np.array([0, 3, 16, 10])  # ceil((|gap| - tol) / c)
    x = rng.normal(size=(len(gaps), w.size)).astype(np.float32)
    targets = (x.astype(np.float64) @ w + b - gaps).astype(np.float32)
    _, iters, _ = targeted_attack(make_score_fn(d, "logit"), x, targets, alpha, TOL, 50, None)
    np.testing.assert_array_equal(iters.numpy(), expected)
    assert steps_per_gap(iters.numpy(), np.abs(gaps)) == pytest.approx((3 / 0.1 + 16 / 0.5 + 10 / 0.3071) / 3, rel=1e-6)




def test_steps_per_gap_successful_leaves_failures_and_zero_steps_out():
    from dat_tf.metrics.attack import steps_per_gap_successful

    # fooled after 2 and 6 steps (gaps 0.1, 0.3): 20 each; within tol at the start (K 0): out; a capped failure: out
    assert steps_per_gap_successful([0, 2, 6, 200], [0.01, 0.1, 0.3, 0.5], [True, True, True, False]) == 20.0
    assert steps_per_gap_successful([200, 200], [0.5, 0.4], [False, False]) is None


def test_attack_pairs_per_example_lines_match_the_summary(linear_d, rng):
    from dat_tf.metrics.attack import attack_pairs

    d, w, b, alpha = _linear_problem(linear_d, rng)
    x_fake = rng.normal(size=(6, w.size)).astype(np.float32)
    x_real = rng.normal(size=(6, w.size)).astype(np.float32)
    out = attack_pairs(make_score_fn(d, "logit"), x_fake, x_real, alpha, TOL, 30, None, per_example=True)
    per = out["per_example"]
    assert len(per["gap0"]) == 6 and out["initial_gap"] == pytest.approx(np.mean(per["gap0"]))
    assert out["k_fake"] == pytest.approx(np.mean(per["fake"]["k"])) and out["num"] == 6
    assert out["success_real"] == pytest.approx(np.mean(per["real"]["success"]))
    with pytest.raises(ValueError, match="paired batches of one shape"):
        attack_pairs(make_score_fn(d, "logit"), x_fake, x_real[:5], alpha)


def test_cli_has_no_reproduce_route():
    out = _cli(["--reproduce=all"], timeout=60)
    assert out.returncode != 0 and "Unknown command line flag 'reproduce'" in out.stderr, out.stderr[-2000:]
    assert not os.path.exists(os.path.join(ROOT, "docs", "attack", "reproduce.sh"))
