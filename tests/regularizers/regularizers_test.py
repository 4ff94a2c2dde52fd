"""Regularizers against closed forms on linear and quadratic discriminators.

For a linear D(x) = w.x + b every input gradient is a multiple of ``w``, so DAT
(both variants), DATT, ASGAN, AR/RFM and the gradient penalties all have short
closed forms, written here in numpy straight from docs/design.md, "DAT" and "Regularizers".
"""

import math
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import regularizers
from dat_tf.critic import Critic
from dat_tf.losses import get_loss
from dat_tf.regularizers import DStep, get_regularizer

SEED = tf.constant([3, 4], tf.int64)
W = np.array([0.8, -1.3, 0.5], np.float32)
B = 0.2


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


# name -> (g1, g1', g2, g2') in numpy.
SCORE_FUNCTIONS = {
    "wgan": (lambda t: t, lambda t: np.ones_like(t), lambda t: -t, lambda t: -np.ones_like(t)),
    "ns": (
        lambda t: -np.logaddexp(0, -t),
        lambda t: sigmoid(-t),
        lambda t: -np.logaddexp(0, t),
        lambda t: -sigmoid(t),
    ),
    "lsgan": (lambda t: -((t - 1) ** 2), lambda t: -2 * (t - 1), lambda t: -(t**2), lambda t: -2 * t),
    "hinge": (
        lambda t: -np.maximum(0, 1 - t),
        lambda t: (t < 1).astype(t.dtype),
        lambda t: -np.maximum(0, 1 + t),
        lambda t: -(t > -1).astype(t.dtype),
    ),
}


def batches(rng, n_real=6, n_fake=5, scale=1.0):
    x_r = (rng.normal(size=(n_real, 3)) * scale + 0.3).astype(np.float32)
    x_f = (rng.normal(size=(n_fake, 3)) * scale - 0.3).astype(np.float32)
    return x_r, x_f


def paper_closed_form(loss, w, b, x_r, x_f, eps):
    """docs/design.md, "DAT", paper variant, on D(x) = w.x + b: (delta_r, delta_f)."""
    g1, dg1, g2, dg2 = SCORE_FUNCTIONS[loss]
    d_r, d_f = x_r @ w + b, x_f @ w + b
    t_r = g1(d_f).mean()
    t_f = g2(d_r).mean()
    delta_r = -eps * (np.sign(g1(d_r) - t_r) * dg1(d_r))[:, None] * w[None, :]
    delta_f = -eps * (np.sign(g2(d_f) - t_f) * dg2(d_f))[:, None] * w[None, :]
    return delta_r, delta_f


def d_terms(reg, step, pert):
    """D's loss as the GAN's D step computes it: the loss on the perturbed batches plus the penalty."""
    real_logits, fake_logits = step.critic.score(pert.real), step.critic.score(pert.fake)
    penalty = reg.penalty(step, pert)
    loss = step.loss.discriminator_loss(real_logits, fake_logits) + penalty
    return types.SimpleNamespace(loss=loss, penalty=penalty, real_logits=real_logits, fake_logits=fake_logits)


def as_np(*ts):
    return [t.numpy() for t in ts]


# -----------------------------------------------------------------------------
# DAT, paper variant
# -----------------------------------------------------------------------------


def test_dat_paper_wgan_matches_the_brief_formula(linear_d, rng):
    """The wgan case written out exactly as in the issue."""
    x_r, x_f = batches(rng)
    eps = 0.7
    reg = get_regularizer("dat", epsilon=eps)
    adv_r, adv_f, d_r, d_f = as_np(
        *reg.adversarial_examples(DStep(Critic(linear_d(W, B)), get_loss("wgan"), tf.constant(x_r), tf.constant(x_f), SEED))
    )
    t_r = np.mean(x_f @ W + B)
    want_r = -eps * np.sign(x_r @ W + B - t_r)[:, None] * W
    t_f = np.mean(-(x_r @ W + B))
    # d/dx |-(w.x + b) - t_f| = sign(-(w.x+b) - t_f) * (-w)
    want_f = -eps * (np.sign(-(x_f @ W + B) - t_f)[:, None] * -W)
    np.testing.assert_allclose(d_r, want_r, atol=1e-6)
    np.testing.assert_allclose(d_f, want_f, atol=1e-6)
    np.testing.assert_allclose(adv_r, x_r + want_r, atol=1e-6)
    np.testing.assert_allclose(adv_f, x_f + want_f, atol=1e-6)
    # Both signs occur, so the per-sample sign is really exercised.
    assert len(np.unique(np.sign(x_r @ W + B - t_r))) == 2


@pytest.mark.parametrize("loss", sorted(SCORE_FUNCTIONS))
def test_dat_paper_matches_closed_form(loss, linear_d, rng):
    x_r, x_f = batches(rng, scale=0.6)
    eps = 1.0
    reg = get_regularizer("dat", epsilon=eps, variant="paper")
    _, _, d_r, d_f = as_np(
        *reg.adversarial_examples(DStep(Critic(linear_d(W, B)), get_loss(loss), tf.constant(x_r), tf.constant(x_f), SEED))
    )
    want_r, want_f = paper_closed_form(loss, W, B, x_r, x_f, eps)
    np.testing.assert_allclose(d_r, want_r, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_f, want_f, rtol=1e-5, atol=1e-6)
    assert np.abs(d_r).max() > 1e-3  # not trivially zero


def test_dat_paper_ns_closed_form_written_out(linear_d, rng):
    """ns: g1 = log sigmoid, g1' = sigmoid(-t); g2 = log(1 - sigmoid), g2' = -sigmoid(t)."""
    x_r, x_f = batches(rng)
    reg = get_regularizer("dat", epsilon=1.0)
    _, _, d_r, d_f = as_np(
        *reg.adversarial_examples(DStep(Critic(linear_d(W, B)), get_loss("ns"), tf.constant(x_r), tf.constant(x_f), SEED))
    )
    s_r, s_f = x_r @ W + B, x_f @ W + B
    t_r = np.mean(np.log(sigmoid(s_f)))
    t_f = np.mean(np.log(1 - sigmoid(s_r)))
    want_r = -np.sign(np.log(sigmoid(s_r)) - t_r)[:, None] * (1 - sigmoid(s_r))[:, None] * W
    want_f = -np.sign(np.log(1 - sigmoid(s_f)) - t_f)[:, None] * (-sigmoid(s_f))[:, None] * W
    np.testing.assert_allclose(d_r, want_r, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_f, want_f, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_dat_epsilon_scaling(variant, linear_d, rng):
    x_r, x_f = batches(rng, scale=0.2)  # fakes stay inside [-1, 1] so the reference clip is inactive
    x_f = np.clip(x_f, -0.5, 0.5)
    critic, loss = Critic(linear_d(W, B)), get_loss("ns")
    out = {}
    for eps in (1.0, 2.0):
        reg = get_regularizer("dat", epsilon=eps, variant=variant)
        out[eps] = as_np(*reg.adversarial_examples(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED)))
    np.testing.assert_allclose(out[1.0][0], x_r + out[1.0][2], rtol=1e-6)  # x_adv = x + delta
    np.testing.assert_allclose(out[1.0][1], x_f + out[1.0][3], rtol=1e-6)
    with pytest.raises(ValueError, match=r"epsilon=0.0 is not allowed; expected a finite number > 0.0"):
        get_regularizer("dat", epsilon=0.0, variant=variant)  # DAT with epsilon 0 would silently be no DAT
    for i in (2, 3):
        assert np.abs(out[1.0][i]).max() > 1e-4
        np.testing.assert_allclose(out[2.0][i], 2.0 * out[1.0][i], rtol=1e-5, atol=1e-7)


def test_dat_paper_has_no_clip_by_default_and_clip_both_clips(linear_d):
    x_r = np.full((2, 3), 0.99, np.float32)
    x_f = np.full((2, 3), -0.99, np.float32)
    w = np.array([5.0, -5.0, 5.0], np.float32)
    critic, loss = Critic(linear_d(w)), get_loss("wgan")
    adv_r, adv_f, _, _ = as_np(*get_regularizer("dat").adversarial_examples(DStep(critic, loss, x_r, x_f, SEED)))
    assert np.abs(adv_r).max() > 1.5 and np.abs(adv_f).max() > 1.5
    adv_r, adv_f, d_r, d_f = as_np(
        *get_regularizer("dat", clip="both").adversarial_examples(DStep(critic, loss, x_r, x_f, SEED))
    )
    assert adv_r.min() >= -1 and adv_r.max() <= 1 and adv_f.min() >= -1 and adv_f.max() <= 1
    np.testing.assert_allclose(d_r, adv_r - x_r)
    np.testing.assert_allclose(d_f, adv_f - x_f)


# -----------------------------------------------------------------------------
# DAT, reference variant
# -----------------------------------------------------------------------------


def reference_closed_form(w, b, x_r, x_f, eps):
    n = len(x_r)
    gap = np.mean(x_r @ w + b) - np.mean(x_f @ w + b)
    grad_r = np.broadcast_to(np.sign(gap) * w / n, x_r.shape)
    grad_f = np.broadcast_to(-np.sign(gap) * w / n, x_f.shape)
    adv_r = x_r - eps * np.clip(grad_r, -1, 1)
    adv_f = np.clip(x_f - eps * np.clip(grad_f, -1, 1), -1, 1)
    return adv_r, adv_f


@pytest.mark.parametrize(
    "w, shift",
    [
        (np.array([0.8, -1.3, 0.5]), 0.5),  # small w: gradient = w/N, no clip
        (np.array([50.0, -0.5, -9.0]), 0.5),  # large w: w/N clipped to [-1, 1] per component
        (np.array([50.0, -0.5, -9.0]), -2.0),  # the sign of the gap flips
    ],
)
@pytest.mark.parametrize("loss", ["wgan", "ns"])
def test_dat_reference_matches_closed_form(w, shift, loss, linear_d, rng):
    w = w.astype(np.float32)
    n = 4
    x_r = (rng.uniform(-3, 3, size=(n, 3)) + shift).astype(np.float32)  # reals out of [-1, 1]: not clipped
    x_f = rng.uniform(-0.95, 0.95, size=(n, 3)).astype(np.float32)
    reg = get_regularizer("dat", variant="reference")
    assert reg.clip == "fake"
    adv_r, adv_f, d_r, d_f = as_np(*reg.adversarial_examples(DStep(Critic(linear_d(w, B)), get_loss(loss), x_r, x_f, SEED)))
    want_r, want_f = reference_closed_form(w, B, x_r, x_f, 1.0)
    np.testing.assert_allclose(adv_r, want_r, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adv_f, want_f, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_r, want_r - x_r, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(d_f, want_f - x_f, rtol=1e-4, atol=1e-6)
    assert np.abs(adv_r).max() > 1.0  # reals really left unclipped
    assert adv_f.min() >= -1.0 and adv_f.max() <= 1.0
    if np.abs(w).max() / n > 1:
        # The gradient clip shows: the first component moves by exactly 1, not w0/N.
        np.testing.assert_allclose(np.abs(d_r[:, 0]), 1.0, rtol=1e-6)
        # and some fakes hit the pixel-range clip.
        assert np.any(np.isclose(np.abs(adv_f), 1.0))


def test_dat_reference_ignores_the_loss_family(linear_d, rng):
    x_r, x_f = batches(rng)
    x_f = np.clip(x_f, -1, 1)
    critic = Critic(linear_d(W, B))
    reg = get_regularizer("dat", variant="reference")
    a = as_np(*reg.adversarial_examples(DStep(critic, get_loss("wgan"), x_r, x_f, SEED)))
    b = as_np(*reg.adversarial_examples(DStep(critic, get_loss("lsgan"), x_r, x_f, SEED)))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_dat_reference_clip_none_leaves_fakes_out_of_range(linear_d):
    w = np.array([40.0, 40.0, 40.0], np.float32)
    x_r = np.full((2, 3), -2.0, np.float32)
    x_f = np.full((2, 3), -0.9, np.float32)
    critic = Critic(linear_d(w, 5.0))
    # gap = mean D(x_r) - mean D(x_f) = -235 - (-103) < 0, so the gradient for fakes is
    # +w/N (clipped to +1) and they step by -1, towards the reals' lower scores.
    _, adv_f, _, _ = as_np(*get_regularizer("dat", variant="reference", clip="none").adversarial_examples(DStep(critic, get_loss("wgan"), x_r, x_f, SEED)))
    np.testing.assert_allclose(adv_f, -1.9, rtol=1e-6)
    _, adv_f, _, _ = as_np(*get_regularizer("dat", variant="reference").adversarial_examples(DStep(critic, get_loss("wgan"), x_r, x_f, SEED)))
    np.testing.assert_allclose(adv_f, -1.0, rtol=1e-6)


# -----------------------------------------------------------------------------
# perturb(): DAT / DATT / ASGAN / AR / RFM
# -----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_dat_and_datt_perturbations(variant, linear_d, rng):
    x_r, x_f = batches(rng, n_real=4, n_fake=4)
    x_f = np.clip(x_f, -1, 1)
    critic, loss = Critic(linear_d(W, B)), get_loss("wgan")
    dat = get_regularizer("dat", variant=variant)
    datt = get_regularizer("datt", variant=variant)
    assert not dat.with_clean and datt.with_clean
    adv_r, adv_f, d_r, d_f = as_np(*dat.adversarial_examples(DStep(critic, loss, x_r, x_f, SEED)))
    p = dat.perturb(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED))
    np.testing.assert_array_equal(p.real.numpy(), adv_r)
    np.testing.assert_array_equal(p.fake.numpy(), adv_f)
    assert p.real_adv is None and p.fake_adv is None
    want_norm = np.mean(np.concatenate([np.linalg.norm(d_r, axis=1), np.linalg.norm(d_f, axis=1)]))
    np.testing.assert_allclose(float(p.norm), want_norm, rtol=1e-5)
    if variant == "paper":
        # wgan on a linear D: every perturbation has norm eps * ||w||.
        np.testing.assert_allclose(float(p.norm), np.linalg.norm(W), rtol=1e-5)

    pt = datt.perturb(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED))
    assert tuple(pt.real.shape) == (8, 3) and tuple(pt.fake.shape) == (8, 3)
    np.testing.assert_array_equal(pt.real.numpy()[:4], x_r)
    np.testing.assert_array_equal(pt.real.numpy()[4:], adv_r)
    np.testing.assert_array_equal(pt.fake.numpy()[:4], x_f)
    np.testing.assert_array_equal(pt.fake.numpy()[4:], adv_f)
    np.testing.assert_allclose(float(pt.norm), want_norm, rtol=1e-5)

    # D's loss on the concatenation is the average of the clean and adversarial losses.
    terms = d_terms(datt, DStep(critic, loss, x_r, x_f, SEED), pt)
    clean = np.mean(x_r @ W + B) - np.mean(x_f @ W + B)
    adv = np.mean(adv_r @ W + B) - np.mean(adv_f @ W + B)
    np.testing.assert_allclose(float(terms.loss), -0.5 * (clean + adv), rtol=1e-5, atol=1e-6)
    assert float(terms.penalty) == 0.0
    assert tuple(terms.real_logits.shape) == (8,)


@pytest.mark.parametrize("eps", [1.0 / 255.0, 0.1])
def test_asgan_is_fgsm_on_the_discriminator_loss(eps, linear_d, rng):
    x_r, x_f = batches(rng)
    critic, loss = Critic(linear_d(W, B)), get_loss("lsgan")
    reg = get_regularizer("asgan", epsilon=eps)
    p = reg.perturb(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED))
    # D's loss: (D(x_r) - 1)^2 and D(x_f)^2; gradients 2 (D - 1) w and 2 D w.
    d_r, d_f = x_r @ W + B, x_f @ W + B
    want_r = x_r + eps * np.sign((d_r - 1)[:, None] * W)
    want_f = x_f + eps * np.sign(d_f[:, None] * W)
    np.testing.assert_allclose(p.real.numpy(), want_r, atol=1e-6)
    np.testing.assert_allclose(p.fake.numpy(), want_f, atol=1e-6)
    np.testing.assert_allclose(float(p.norm), eps * math.sqrt(3), rtol=1e-5)
    # The step raises D's loss (it is an attack on D).
    before = float(loss.discriminator_loss(critic.score(x_r), critic.score(x_f)))
    after = float(loss.discriminator_loss(critic.score(p.real), critic.score(p.fake)))
    assert after > before
    # And D is then trained on the adversarial batch.
    terms = d_terms(reg, DStep(critic, loss, x_r, x_f, SEED), p)
    np.testing.assert_allclose(float(terms.loss), after, rtol=1e-6)


def test_asgan_default_epsilon_is_one_over_255():
    assert get_regularizer("asgan").epsilon == pytest.approx(1 / 255)


@pytest.mark.parametrize("reduction", ["batch", "mean"])
@pytest.mark.parametrize("loss", ["wgan", "lsgan", "ns"])
def test_ar_adversarial_examples_and_penalty_closed_form(loss, reduction, linear_d, rng):
    x_r, x_f = batches(rng)
    eps, weight = 0.05, 3.0
    critic, gl = Critic(linear_d(W, B)), get_loss(loss)
    reg = get_regularizer("ar", epsilon=eps, weight=weight, reduction=reduction)
    p = reg.perturb(DStep(critic, gl, tf.constant(x_r), tf.constant(x_f), SEED))
    # g = per-example gradient of D's loss (-g1 on reals, -g2 on fakes) = c_i * w.
    _, dg1, _, dg2 = SCORE_FUNCTIONS[loss]
    d_r, d_f = x_r @ W + B, x_f @ W + B
    c_r, c_f = -dg1(d_r), -dg2(d_f)
    unit = W / np.linalg.norm(W)
    want_r = x_r + eps * np.sign(c_r)[:, None] * unit
    want_f = x_f + eps * np.sign(c_f)[:, None] * unit
    np.testing.assert_allclose(p.real_adv.numpy(), want_r, atol=1e-6)
    np.testing.assert_allclose(p.fake_adv.numpy(), want_f, atol=1e-6)
    np.testing.assert_array_equal(p.real.numpy(), x_r)  # D's loss stays on the clean batch
    np.testing.assert_array_equal(p.fake.numpy(), x_f)
    np.testing.assert_allclose(float(p.norm), eps, rtol=1e-4)
    # Penalty: weight * (||D(X_r_adv) - D(X_r)|| + ||...fake...||), the norm over the batch ("batch": the
    # Frobenius norm of the differences; "mean": the mean of per-example norms). Each difference is
    # eps |w.u_i| = eps ||w||, so "mean" gives 2 weight eps ||w|| and "batch" sqrt(B) times each term.
    u_r = np.sign(c_r)[:, None] * unit
    u_f = np.sign(c_f)[:, None] * unit
    reduce = (lambda g: np.sqrt(np.sum(g**2))) if reduction == "batch" else np.mean
    want_pen = weight * (reduce(eps * np.abs(u_r @ W)) + reduce(eps * np.abs(u_f @ W)))
    n_r, n_f = (len(x_r), len(x_f)) if reduction == "batch" else (1, 1)
    np.testing.assert_allclose(want_pen, weight * eps * np.linalg.norm(W) * (np.sqrt(n_r) + np.sqrt(n_f)), rtol=1e-6)
    terms = d_terms(reg, DStep(critic, gl, x_r, x_f, SEED), p)
    np.testing.assert_allclose(float(terms.penalty), want_pen, rtol=1e-3)
    clean_loss = float(gl.discriminator_loss(critic.score(x_r), critic.score(x_f)))
    np.testing.assert_allclose(float(terms.loss), clean_loss + want_pen, rtol=1e-4)


def _two_layer_linear(a, v, b=0.1):
    d = keras.Sequential(
        [keras.Input((a.shape[1],)), keras.layers.Dense(a.shape[0], name="feat"), keras.layers.Dense(1, name="out")]
    )
    d.get_layer("feat").set_weights([a.T.astype(np.float32), np.zeros(a.shape[0], np.float32)])
    d.get_layer("out").set_weights([v.reshape(-1, 1).astype(np.float32), np.array([b], np.float32)])
    return d


@pytest.mark.parametrize("reduction", ["batch", "mean"])
@pytest.mark.parametrize("name", ["ar", "rfm"])
def test_robust_penalty_on_two_layer_linear_discriminator(name, reduction, rng):
    """D(x) = v.(A x): effective w = A^T v, phi(x) = A x.

    x_adv - x = +-eps w/||w||, so AR's gap is eps ||w|| and RFM's is
    eps ||A w|| / ||w|| per example.
    """
    a = rng.normal(size=(4, 3))
    v = rng.normal(size=4)
    w = a.T @ v
    x_r, x_f = batches(rng)
    eps, weight = 0.01, 10.0
    critic, loss = Critic(_two_layer_linear(a, v)), get_loss("wgan")
    reg = get_regularizer(name, epsilon=eps, weight=weight, reduction=reduction)
    p = reg.perturb(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED))
    unit = w / np.linalg.norm(w)
    # wgan: D's loss is -D(x_r) (gradient -w) and +D(x_f) (gradient +w).
    np.testing.assert_allclose(p.real_adv.numpy(), x_r - eps * unit, atol=1e-6)
    np.testing.assert_allclose(p.fake_adv.numpy(), x_f + eps * unit, atol=1e-6)
    pen = float(reg.penalty(DStep(critic, loss, x_r, x_f, SEED), p))
    gap = eps * np.linalg.norm(w) if name == "ar" else eps * np.linalg.norm(a @ w) / np.linalg.norm(w)
    scale = np.sqrt(len(x_r)) + np.sqrt(len(x_f)) if reduction == "batch" else 2  # B equal gaps: ||.|| = sqrt(B) gap
    want = weight * gap * scale
    np.testing.assert_allclose(pen, want, rtol=2e-3)


def test_rfm_feature_layer_by_name(rng):
    a = rng.normal(size=(4, 3))
    v = rng.normal(size=4)
    d = _two_layer_linear(a, v)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    phi, logits = Critic(d, feature_layer="feat").features_and_scores(x)
    np.testing.assert_allclose(phi.numpy(), x @ a.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits.numpy(), x @ a.T @ v + 0.1, rtol=1e-5, atol=1e-5)


# -----------------------------------------------------------------------------
# Gradient penalties
# -----------------------------------------------------------------------------

PENALTIES = {
    "gp": lambda n: (n - 1.0) ** 2,
    "lp": lambda n: np.maximum(0.0, n - 1.0) ** 2,
    "zero_gp": lambda n: n**2,
    "r1": lambda n: n**2,
}


@pytest.mark.parametrize("name", sorted(PENALTIES))
@pytest.mark.parametrize("scale", [0.4, 2.5])  # ||w|| below and above 1
def test_gradient_penalty_on_linear_d(name, scale, linear_d, rng):
    w = (W / np.linalg.norm(W) * scale).astype(np.float32)
    lam = 7.0
    x_r, x_f = batches(rng, n_real=5, n_fake=5)
    critic, loss = Critic(linear_d(w, B)), get_loss("wgan")
    reg = get_regularizer(name, weight=lam)
    p = reg.perturb(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED))
    np.testing.assert_array_equal(p.real.numpy(), x_r)
    np.testing.assert_array_equal(p.fake.numpy(), x_f)
    pen = float(reg.penalty(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED), p))
    np.testing.assert_allclose(pen, lam * PENALTIES[name](scale), rtol=1e-5, atol=1e-6)
    terms = d_terms(reg, DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED), p)
    clean = -(np.mean(x_r @ w + B) - np.mean(x_f @ w + B))
    np.testing.assert_allclose(float(terms.loss), clean + lam * PENALTIES[name](scale), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(terms.penalty), pen, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(PENALTIES))
@pytest.mark.parametrize("scale", [0.4, 2.5])
def test_gradient_penalty_weight_gradient_on_linear_d(name, scale, linear_d, rng):
    """d/dw of lam * f(||w||) = lam * f'(||w||) * w / ||w|| (second order through the input gradient)."""
    w = (W / np.linalg.norm(W) * scale).astype(np.float32)
    lam = 3.0
    x_r, x_f = batches(rng, n_real=4, n_fake=4)
    d = linear_d(w, B)
    critic, loss = Critic(d), get_loss("wgan")
    reg = get_regularizer(name, weight=lam)
    p = reg.perturb(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED))
    kernel, bias = d.layers[-1].kernel, d.layers[-1].bias
    with tf.GradientTape() as tape:
        pen = reg.penalty(DStep(critic, loss, tf.constant(x_r), tf.constant(x_f), SEED), p)
    g_kernel, g_bias = tape.gradient(pen, [kernel, bias])
    n = np.linalg.norm(w)
    fprime = {
        "gp": 2 * (n - 1),
        "lp": 2 * max(0.0, n - 1),
        "zero_gp": 2 * n,
        "r1": 2 * n,
    }[name]
    want = lam * fprime * w / n
    np.testing.assert_allclose(g_kernel.numpy().ravel(), want, rtol=1e-4, atol=1e-6)
    if name in ("zero_gp", "r1"):
        np.testing.assert_allclose(g_kernel.numpy().ravel(), 2 * lam * w, rtol=1e-4)
    assert g_bias is None or np.allclose(g_bias.numpy(), 0.0)


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_gradient_penalty_on_quadratic_d(name, quadratic_d, rng):
    """D(x) = 0.5 ||x||^2 has input gradient x; with x_real == x_fake the interpolate is x."""
    lam = 2.0
    x = (rng.normal(size=(6, 3)) * 0.7).astype(np.float32)
    critic, loss = Critic(quadratic_d(3)), get_loss("wgan")
    reg = get_regularizer(name, weight=lam)
    pen = float(reg.penalty(DStep(critic, loss, tf.constant(x), tf.constant(x), SEED), None))
    norms = np.linalg.norm(x, axis=1)
    want = lam * np.mean(PENALTIES[name](norms))
    np.testing.assert_allclose(pen, want, rtol=1e-5)
    assert np.any(norms < 1) and np.any(norms > 1)  # both sides of the lp hinge are exercised


def test_r1_uses_reals_only(quadratic_d, rng):
    lam = 2.0
    x_r = tf.constant(rng.normal(size=(6, 3)), tf.float32)
    x_f = tf.constant(rng.normal(size=(6, 3)) + 5.0, tf.float32)
    critic, loss = Critic(quadratic_d(3)), get_loss("ns")
    pen = float(get_regularizer("r1", weight=lam).penalty(DStep(critic, loss, x_r, x_f, SEED), None))
    np.testing.assert_allclose(pen, lam * np.mean(np.sum(x_r.numpy() ** 2, axis=1)), rtol=1e-5)


def test_zero_gp_interpolates_on_real_fake_lines(quadratic_d, rng):
    """With x_fake = 0 the interpolate is alpha * x_real, so ||grad|| = alpha ||x_real||."""
    lam = 1.5
    x_r = rng.normal(size=(8, 3)).astype(np.float32)
    x_f = np.zeros_like(x_r)
    critic, loss = Critic(quadratic_d(3)), get_loss("wgan")
    reg = get_regularizer("zero_gp", weight=lam)
    pen = float(reg.penalty(DStep(critic, loss, x_r, x_f, SEED), None))
    # alpha ~ U[0, 1], one per example, from the stateless seed the model passes in.
    alpha = tf.random.stateless_uniform([8], seed=SEED).numpy()
    np.testing.assert_allclose(pen, lam * np.mean(alpha**2 * np.sum(x_r**2, axis=1)), rtol=1e-5)
    assert 0 < pen < lam * np.mean(np.sum(x_r**2, axis=1))
    # Same seed, same penalty; another seed, another alpha.
    assert float(reg.penalty(DStep(critic, loss, x_r, x_f, SEED), None)) == pen
    other = float(reg.penalty(DStep(critic, loss, x_r, x_f, tf.constant([9, 9], tf.int64)), None))
    assert abs(other - pen) > 1e-4


def test_interpolate_helper():
    x_r = np.ones((3, 2, 2), np.float32)
    x_f = np.zeros((3, 2, 2), np.float32)
    alpha = np.array([0.0, 0.25, 1.0], np.float32)
    out = regularizers.interpolate(tf.constant(x_r), tf.constant(x_f), alpha).numpy()
    np.testing.assert_allclose(out, alpha[:, None, None] * np.ones((3, 2, 2)))


def test_none_regularizer_is_the_plain_loss(linear_d, rng):
    x_r, x_f = batches(rng)
    critic, loss = Critic(linear_d(W, B)), get_loss("hinge")
    reg = get_regularizer("none")
    p = reg.perturb(DStep(critic, loss, x_r, x_f, SEED))
    assert p.real is x_r and p.fake is x_f and p.norm == 0.0
    terms = d_terms(reg, DStep(critic, loss, x_r, x_f, SEED), p)
    s_r, s_f = x_r @ W + B, x_f @ W + B
    want = np.mean(np.maximum(0, 1 - s_r)) + np.mean(np.maximum(0, 1 + s_f))
    np.testing.assert_allclose(float(terms.loss), want, rtol=1e-5)
    assert float(terms.penalty) == 0.0


# -----------------------------------------------------------------------------
# Registry and bad input
# -----------------------------------------------------------------------------

ALL_NAMES = ["none", "gp", "lp", "zero_gp", "r1", "ar", "rfm", "asgan", "dat", "datt"]


def test_registry_names():
    builtin = [n for n, e in regularizers.REGULARIZERS.items() if e.cls.__module__.startswith("dat_tf.")]
    assert sorted(builtin) == sorted(ALL_NAMES)  # other test files may register their own


@pytest.mark.parametrize("name", ALL_NAMES)
def test_serialize_round_trip(name):
    kwargs = {
        "gp": {"weight": 3.0},
        "r1": {"weight": 0.5},
        "ar": {"epsilon": 0.01},
        "asgan": {"epsilon": 0.02},
        "dat": {"epsilon": 0.5, "variant": "reference"},
        "datt": {"epsilon": 2.0},
    }.get(name, {})
    reg = get_regularizer(name, **kwargs)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(reg))
    assert type(again) is type(reg) and again.name == name
    assert again.get_config() == reg.get_config()
    for k, v in kwargs.items():
        assert getattr(again, k) == v


def test_fixed_parts_of_each_name():
    assert get_regularizer("gp").kind == "one_centered"
    assert get_regularizer("lp").kind == "one_sided"
    assert get_regularizer("zero_gp").kind == "zero_centered"
    assert get_regularizer("zero_gp").where == "interpolates"
    assert get_regularizer("r1").where == "real"
    assert get_regularizer("ar").target == "logits"
    assert get_regularizer("rfm").target == "features"
    assert get_regularizer("dat").variant == "paper"
    assert get_regularizer("dat").epsilon == 1.0


@pytest.mark.parametrize("bad", ["dta", "DAT", "wgan-gp", ""])
def test_unknown_regularizer_lists_valid_names(bad):
    with pytest.raises(ValueError) as info:
        get_regularizer(bad)
    msg = str(info.value)
    assert repr(bad) in msg
    for name in ALL_NAMES:
        assert repr(name) in msg


@pytest.mark.parametrize("name", ["dat", "datt", "asgan", "ar", "rfm"])
@pytest.mark.parametrize("eps", [-1.0, -1e-3, float("nan"), float("inf")])
def test_bad_epsilon(name, eps):
    with pytest.raises(ValueError, match="epsilon") as info:
        get_regularizer(name, epsilon=eps)
    assert repr(eps) in str(info.value)


@pytest.mark.parametrize("name", ["gp", "lp", "zero_gp", "r1", "ar", "rfm"])
@pytest.mark.parametrize("weight", [-0.5, float("nan"), True, "10"])
def test_bad_weight(name, weight):
    with pytest.raises(ValueError, match="weight") as info:
        get_regularizer(name, **{"weight": weight})
    assert repr(weight) in str(info.value)


@pytest.mark.parametrize(
    "name, kwargs, bad",
    [
        ("dat", {"variant": "authors"}, "'authors'"),
        ("dat", {"clip": "real"}, "'real'"),
        ("dat", {"clip_range": (1.0, -1.0)}, "(1.0, -1.0)"),
        ("gp", {"where": "fake"}, "'fake'"),
        ("dat", {"lambda_": 3}, "lambda_"),
        ("none", {"epsilon": 1.0}, "epsilon"),
    ],
)
def test_bad_arguments_name_the_value(name, kwargs, bad):
    with pytest.raises(ValueError) as info:
        get_regularizer(name, **kwargs)
    assert bad in str(info.value)


def test_instances_pass_through():
    reg = get_regularizer("dat")
    assert get_regularizer(reg) is reg
    assert isinstance(get_regularizer("gp"), regularizers.GradientPenalty)
    with pytest.raises(ValueError, match="instance and arguments"):
        get_regularizer(reg, epsilon=2.0)


def test_older_saved_form_still_loads():
    """``{"name", "config"}`` is how models saved before the registry rewrite store their regularizer."""
    reg = get_regularizer({"name": "dat", "config": {"epsilon": 0.5, "variant": "reference"}})
    assert reg.name == "dat" and reg.epsilon == 0.5 and reg.clip == "fake"


@pytest.mark.parametrize(
    "name, fixed",
    [("dat", {"with_clean": True}), ("datt", {"with_clean": False}), ("gp", {"kind": "one_sided"}),
     ("r1", {"where": "interpolates"}), ("ar", {"target": "features"}), ("rfm", {"target": "logits"})],
)
def test_an_argument_the_name_fixes_is_an_error(name, fixed):
    (key, value), = fixed.items()
    with pytest.raises(ValueError, match=rf"{name!r} fixes {key}=") as info:
        get_regularizer(name, **fixed)
    assert f"{key}={value!r}" in str(info.value)


def test_instance_names_come_from_the_registry():
    assert regularizers.DirectAdversarialTraining(epsilon=0.5).name == "dat"
    assert regularizers.DirectAdversarialTraining(with_clean=True).name == "datt"
    assert regularizers.GradientPenalty(kind="zero_centered", where="real").name == "r1"
    assert regularizers.GradientPenalty(kind="zero_centered").name == "zero_gp"
    assert regularizers.RobustRegularizer(target="logits").name == "ar"
