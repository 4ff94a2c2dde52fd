"""Loss families against the table of docs/design.md, "Losses", computed in numpy."""

import numpy as np
import pytest
import tensorflow as tf

from dat_tf import losses


def softplus(t):
    return np.logaddexp(0.0, t)


# name -> (g1, g2, generator), written from docs/design.md, "Losses" in numpy.
REFERENCE = {
    "ns": (lambda t: -softplus(-t), lambda t: -softplus(t), lambda t: softplus(-t)),
    "minimax": (lambda t: -softplus(-t), lambda t: -softplus(t), lambda t: -softplus(t)),
    "lsgan": (lambda t: -((t - 1) ** 2), lambda t: -(t**2), lambda t: 0.5 * (t - 1) ** 2),
    "wgan": (lambda t: t, lambda t: -t, lambda t: -t),
    "hinge": (lambda t: -np.maximum(0, 1 - t), lambda t: -np.maximum(0, 1 + t), lambda t: -t),
}

LOGITS = np.array([-30.0, -3.0, -1.5, -1.0, -0.25, 0.0, 0.4, 1.0, 2.0, 7.5, 30.0])


def test_registry_lists_exactly_the_design_losses():
    assert sorted(losses.LOSSES) == sorted(REFERENCE)


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("part", ["g1", "g2", "generator"])
def test_elementwise_functions_match_numpy(name, part):
    ref = REFERENCE[name][["g1", "g2", "generator"].index(part)]
    got = getattr(losses.get_loss(name), part)(tf.constant(LOGITS, tf.float64)).numpy()
    np.testing.assert_allclose(got, ref(LOGITS), rtol=1e-12, atol=1e-12)
    # Works on any shape, elementwise.
    grid = LOGITS[:10].reshape(2, 5)
    got2 = getattr(losses.get_loss(name), part)(tf.constant(grid, tf.float32)).numpy()
    assert got2.shape == (2, 5)
    np.testing.assert_allclose(got2, ref(grid), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_discriminator_and_generator_loss_match_numpy(name, rng):
    g1, g2, gen = REFERENCE[name]
    real = rng.normal(scale=2.0, size=7)
    fake = rng.normal(scale=2.0, size=5)  # different batch sizes: each term is its own mean
    loss = losses.get_loss(name)
    d = loss.discriminator_loss(tf.constant(real), tf.constant(fake)).numpy()
    np.testing.assert_allclose(d, -(g1(real).mean() + g2(fake).mean()), rtol=1e-12)
    g = loss.generator_loss(tf.constant(fake)).numpy()
    np.testing.assert_allclose(g, gen(fake).mean(), rtol=1e-12)


@pytest.mark.parametrize(
    "name, real, fake, d_expected, g_expected",
    [
        # Hand-computed at the textbook points.
        ("ns", 0.0, 0.0, 2 * np.log(2.0), np.log(2.0)),
        ("minimax", 0.0, 0.0, 2 * np.log(2.0), -np.log(2.0)),
        ("lsgan", 1.0, 0.0, 0.0, 0.5),  # D perfect; G loss 0.5 (0 - 1)^2
        ("lsgan", 0.0, 1.0, 2.0, 0.0),
        ("wgan", 3.0, -2.0, -5.0, 2.0),
        ("hinge", 2.0, -2.0, 0.0, 2.0),  # both margins satisfied
        ("hinge", 0.0, 0.0, 2.0, 0.0),
    ],
)
def test_hand_computed_values(name, real, fake, d_expected, g_expected):
    loss = losses.get_loss(name)
    r, f = tf.constant([real]), tf.constant([fake])
    assert float(loss.discriminator_loss(r, f)) == pytest.approx(d_expected, abs=1e-6)
    assert float(loss.generator_loss(f)) == pytest.approx(g_expected, abs=1e-6)


def test_ns_is_numerically_stable_at_large_logits():
    loss = losses.get_loss("ns")
    big = tf.constant([1e4, -1e4])
    for v in (loss.g1(big), loss.g2(big), loss.generator(big)):
        assert np.all(np.isfinite(v.numpy()))
    np.testing.assert_allclose(loss.g1(big).numpy(), [0.0, -1e4], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_discriminator_improves_when_real_logits_rise(name):
    """D minimises its loss by raising real logits and lowering fake ones."""
    loss = losses.get_loss(name)
    low = loss.discriminator_loss(tf.constant([0.5]), tf.constant([-0.5]))
    high = loss.discriminator_loss(tf.constant([-0.5]), tf.constant([0.5]))
    assert float(low) < float(high)


@pytest.mark.parametrize("bad", ["gan", "NS", "", "wasserstein", None, 3])
def test_unknown_loss_is_a_value_error_listing_valid_names(bad):
    with pytest.raises(ValueError) as info:
        losses.get_loss(bad)
    msg = str(info.value)
    assert repr(bad) in msg
    for valid in REFERENCE:
        assert repr(valid) in msg


def test_get_loss_passes_instances_through():
    loss = losses.get_loss("hinge")
    assert losses.get_loss(loss) is loss
