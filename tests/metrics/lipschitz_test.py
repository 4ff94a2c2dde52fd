"""The spectral-norm product against numpy, and on nets where it is known."""

import keras
import numpy as np
import pytest

from dat_tf import nets
from dat_tf.metrics.lipschitz import layer_spectral_norms, spectral_norm_product


def test_product_matches_numpy_svd():
    d = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7), keras.layers.ReLU(), keras.layers.Dense(1)])
    want = np.prod([np.linalg.svd(layer.kernel.numpy(), compute_uv=False)[0] for layer in d.layers if hasattr(layer, "kernel")])
    np.testing.assert_allclose(spectral_norm_product(d), want, rtol=1e-5)


def test_linear_d_product_is_the_weight_norm(linear_d):
    w = np.array([3.0, -4.0], np.float32)
    assert abs(spectral_norm_product(linear_d(w, 0.5)) - 5.0) < 1e-6


def test_conv_kernels_are_reshaped_to_fan_in_by_fan_out():
    d = nets.dcgan_discriminator(resolution=8, channels=1, width=4, batch_norm=False)
    norms = layer_spectral_norms(d)
    conv = d.get_layer("conv0").kernel.numpy().reshape(-1, 4)
    assert abs(norms["conv0"] - np.linalg.svd(conv, compute_uv=False)[0]) < 1e-5
    assert set(norms) == {"conv0", "logit"}


def test_spectral_normalization_brings_each_layer_to_one_after_training_calls():
    d = nets.mlp_discriminator(width=16, spectral_norm=True)
    x = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    before = layer_spectral_norms(d)
    for _ in range(30):  # power iterations converge; Keras overwrites the kernel with W / sigma
        d(x, training=True)
    after = layer_spectral_norms(d)
    assert max(abs(v - 1.0) for v in after.values()) < 0.05
    assert max(abs(v - 1.0) for v in before.values()) > 0.05


def test_gradient_norms_by_correctness_on_a_quadratic_critic(rng):
    """D(x) = ||x||^2 / 2 - 1: grad = x, so each norm is ||x||; correctness from g1/g2 computed in numpy."""
    import keras

    from dat_tf.metrics.lipschitz import adaptivity_ratio, gradient_norms_by_correctness

    d = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(
        lambda x: 0.5 * keras.ops.sum(x * x, axis=1, keepdims=True) - 1.0)])
    reals = rng.normal(size=(9, 3)).astype("float32") * 1.5
    # Mostly small fakes (scored as fakes), and two large ones that D scores like reals (wrong).
    fakes = np.concatenate([rng.normal(size=(5, 3)) * 0.5, np.full((2, 3), 2.0)]).astype("float32")
    out = gradient_norms_by_correctness(d, "ns", reals, fakes)
    log_sig = lambda t: -np.logaddexp(0, -t)  # noqa: E731
    s_r, s_f = 0.5 * (reals**2).sum(1) - 1, 0.5 * (fakes**2).sum(1) - 1
    g1_r, g1_f, g2_r, g2_f = log_sig(s_r), log_sig(s_f), log_sig(-s_r), log_sig(-s_f)  # g2(t) = log(1 - sigmoid t)
    np.testing.assert_array_equal(out["real"]["correct"], g1_r >= g1_f.mean())
    np.testing.assert_array_equal(out["fake"]["correct"], g2_f >= g2_r.mean())
    assert 0 < out["real"]["correct"].sum() < 9 and 0 < out["fake"]["correct"].sum() < 7, "both groups present"
    np.testing.assert_allclose(out["real"]["norm"], np.linalg.norm(reals, axis=1), rtol=1e-5)
    np.testing.assert_allclose(out["fake"]["norm"], np.linalg.norm(fakes, axis=1), rtol=1e-5)
    norm = np.concatenate([np.linalg.norm(reals, axis=1), np.linalg.norm(fakes, axis=1)])
    correct = np.concatenate([g1_r >= g1_f.mean(), g2_f >= g2_r.mean()])
    assert adaptivity_ratio(out) == pytest.approx(norm[~correct].mean() / norm[correct].mean(), rel=1e-5)
    everyone = {s: {"norm": np.ones(2), "correct": np.ones(2, bool)} for s in ("real", "fake")}
    assert np.isnan(adaptivity_ratio(everyone))
    np.testing.assert_allclose(out["real"]["margin"], g1_r - g1_f.mean(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["fake"]["margin"], g2_f - g2_r.mean(), rtol=1e-4, atol=1e-6)


def test_margin_rank_correlation_against_hand_ranks():
    from dat_tf.metrics.lipschitz import margin_rank_correlation

    def split(margin, norm):
        m, n = np.asarray(margin, float), np.asarray(norm, float)
        return {"real": {"margin": m[:3], "norm": n[:3]}, "fake": {"margin": m[3:], "norm": n[3:]}}

    assert margin_rank_correlation(split([1, 2, 3, 4, 5], [9, 7, 5, 3, 1])) == pytest.approx(-1.0)
    # Ranks of margin 1..5 against norm ranks (2, 1, 4, 3, 5): rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6*4/120.
    assert margin_rank_correlation(split([1, 2, 3, 4, 5], [20, 10, 40, 30, 50])) == pytest.approx(0.8)
    assert np.isnan(margin_rank_correlation(split([1, 1, 1, 1, 1], [1, 2, 3, 4, 5])))
