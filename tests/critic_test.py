"""Critic: scores, input gradients, features, and a perturbation pass that leaves D alone."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.critic import Critic, per_example_norm, takes_training
from dat_tf.losses import get_loss
from dat_tf.nets import dcgan_discriminator
from dat_tf.regularizers import DStep, get_regularizer

W = np.array([0.5, -2.0, 1.0], np.float32)


def test_score_is_flat_float32(linear_d, rng):
    x = rng.normal(size=(5, 3)).astype(np.float32)
    c = Critic(linear_d(W, 0.3))
    for stateless in (False, True):
        s = c.score(tf.constant(x), stateless=stateless)
        assert s.shape == (5,) and s.dtype == tf.float32
        np.testing.assert_allclose(s.numpy(), x @ W + 0.3, rtol=1e-5, atol=1e-6)


def test_input_gradient_of_linear_d(linear_d, rng):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    c = Critic(linear_d(W, 0.3))
    grad, logits = c.input_gradient(lambda t: tf.reduce_sum(t**2), x)
    # d/dx sum (w.x + b)^2 = 2 (w.x + b) w
    np.testing.assert_allclose(grad.numpy(), 2 * (x @ W + 0.3)[:, None] * W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits.numpy(), x @ W + 0.3, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.gradient_norms(x).numpy(), np.full(4, np.linalg.norm(W)), rtol=1e-6)


def test_pair_input_gradients(linear_d, rng):
    x_r = rng.normal(size=(4, 3)).astype(np.float32)
    x_f = rng.normal(size=(2, 3)).astype(np.float32)
    c = Critic(linear_d(W))
    g_r, g_f = c.pair_input_gradients(lambda lr, lf: tf.reduce_sum(lr) - 3.0 * tf.reduce_sum(lf), x_r, x_f)
    np.testing.assert_allclose(g_r.numpy(), np.tile(W, (4, 1)), rtol=1e-6)
    np.testing.assert_allclose(g_f.numpy(), np.tile(-3 * W, (2, 1)), rtol=1e-6)


def test_per_example_norm(rng):
    t = rng.normal(size=(3, 2, 4)).astype(np.float32)
    np.testing.assert_allclose(
        per_example_norm(t).numpy(), np.linalg.norm(t.reshape(3, -1), axis=1), rtol=1e-6
    )


def test_features_default_to_input_of_last_layer(rng):
    x = rng.normal(size=(3, 8, 8, 1)).astype(np.float32)
    d = dcgan_discriminator(resolution=8, channels=1, width=2)
    phi, logits = Critic(d).features_and_scores(x)
    by_name, _ = Critic(d, feature_layer="features").features_and_scores(x)
    assert phi.shape == (3, 4 * 4 * 2)
    np.testing.assert_allclose(phi.numpy(), by_name.numpy(), rtol=1e-6)
    # The logit is the dense layer applied to those features.
    k, b = d.get_layer("logit").get_weights()
    np.testing.assert_allclose(logits.numpy(), (phi.numpy() @ k + b).ravel(), rtol=1e-4, atol=1e-5)


def test_unknown_feature_layer_names_it(rng):
    d = dcgan_discriminator(resolution=8, channels=1, width=2)
    with pytest.raises(ValueError, match="'penultimate'"):
        Critic(d, feature_layer="penultimate").features_and_scores(np.zeros((1, 8, 8, 1), np.float32))


def test_subclassed_discriminator_has_no_features():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x, training=False):
            return self.dense(x)

    d = Sub()
    d(tf.zeros((1, 2)))
    with pytest.raises(ValueError, match="Sub"):
        Critic(d).features_and_scores(tf.zeros((1, 2)))


FORMS = ["call(x)", "call(x, training=None)", "call(x, training=False)", "call(x, **kwargs)"]


def test_takes_training_reads_the_call_signature(call_forms):
    forms, _ = call_forms
    assert {form: takes_training(cls()) for form, cls in forms.items()} == {
        "call(x)": False, "call(x, training=None)": True, "call(x, training=False)": True,
        "call(x, **kwargs)": False,
    }


@pytest.mark.parametrize("form", FORMS)
def test_stateless_scores_of_every_call_form_are_training_mode_and_change_nothing(form, call_forms, rng):
    forms, twin = call_forms
    d = forms[form]()
    x = tf.constant(rng.normal(size=(6, 3)) * 2.0 + 1.0, tf.float32)
    d(x)  # built
    reference = twin(d, 3)
    before = _snapshot(d)
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = Critic(d).score(x, stateless=True)
        value = tf.reduce_sum(scores**2)
    grad_x, *grad_w = tape.gradient(value, [x, *d.trainable_variables])
    for k, v in _snapshot(d).items():  # no BatchNorm statistic moved
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    # Training mode (batch statistics), as the functional twin computes it, not inference mode.
    with tf.GradientTape() as tape:
        tape.watch(x)
        expected = Critic(reference).score(x, stateless=True)
        value = tf.reduce_sum(expected**2)
    ref_x, *ref_w = tape.gradient(value, [x, *reference.trainable_variables])
    np.testing.assert_allclose(scores.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(scores.numpy(), _flat(d(x, training=False)), atol=1e-3)
    # Gradients reach the inputs and every weight (a penalty trains D through this pass).
    np.testing.assert_allclose(grad_x.numpy(), ref_x.numpy(), rtol=1e-4, atol=1e-6)
    assert len(grad_w) == len(ref_w) == 5
    for g, r in zip(grad_w, ref_w):
        np.testing.assert_allclose(g.numpy(), r.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("form", FORMS)
def test_dat_perturbation_of_every_call_form_leaves_d_alone(form, call_forms, rng):
    forms, _ = call_forms
    d = forms[form]()
    x_r = tf.constant(rng.normal(size=(6, 3)) + 2.0, tf.float32)
    x_f = tf.constant(rng.normal(size=(6, 3)) - 1.0, tf.float32)
    d(x_r)
    before = _snapshot(d)
    p = get_regularizer("dat").perturb(DStep(Critic(d), get_loss("ns"), x_r, x_f, tf.constant([1, 2], tf.int64)))
    for k, v in _snapshot(d).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert float(tf.reduce_max(tf.abs(p.real - x_r))) > 1e-6  # it perturbed


# -----------------------------------------------------------------------------
# The perturbation pass does not touch D
# -----------------------------------------------------------------------------


def _stateful_discriminator():
    """MLP with spectral norm on both dense layers and a BatchNorm in between."""
    x = keras.Input((3,))
    h = keras.layers.SpectralNormalization(keras.layers.Dense(8), name="sn0")(x)
    h = keras.layers.BatchNormalization(name="bn", momentum=0.5)(h)
    h = keras.layers.ReLU()(h)
    out = keras.layers.SpectralNormalization(keras.layers.Dense(1), name="sn_out")(h)
    return keras.Model(x, out)


def _snapshot(model):
    return {v.path: v.numpy().copy() for v in model.variables}


def _state_variables(model):
    names = [v.path for v in model.variables]
    bn = [n for n in names if "moving_mean" in n or "moving_variance" in n]
    sn_u = [n for n in names if "vector_u" in n]
    kernels = [n for n in names if n.endswith("kernel")]
    return bn, sn_u, kernels


def test_training_call_does_change_state(rng):
    """Control: a plain training-mode call updates BN statistics, SN u and kernels,
    so the equality checks below would notice a stateful perturbation pass."""
    d = _stateful_discriminator()
    before = _snapshot(d)
    d(tf.constant(rng.normal(size=(6, 3)) + 2.0, tf.float32), training=True)
    after = _snapshot(d)
    bn, sn_u, kernels = _state_variables(d)
    assert len(bn) == 2 and len(sn_u) == 2 and len(kernels) >= 2
    for name in bn + sn_u + kernels:
        assert not np.allclose(before[name], after[name]), name


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("dat", {}),
        ("dat", {"variant": "reference"}),
        ("datt", {}),
        ("asgan", {"epsilon": 0.1}),
        ("rfm", {"epsilon": 0.1}),
        ("ar", {"epsilon": 0.1}),
    ],
)
@pytest.mark.parametrize("loss", ["ns", "wgan"])
def test_perturbation_leaves_discriminator_state_and_gives_no_weight_gradient(name, kwargs, loss, rng):
    d = _stateful_discriminator()
    x_r = tf.constant(rng.normal(size=(6, 3)) + 2.0, tf.float32)
    x_f = tf.constant(rng.normal(size=(6, 3)) - 1.0, tf.float32)
    reg = get_regularizer(name, **kwargs)
    before = _snapshot(d)
    with tf.GradientTape(persistent=True) as tape:
        p = reg.perturb(DStep(Critic(d), get_loss(loss), x_r, x_f, tf.constant([1, 2], tf.int64)))
        outputs = [p.real, p.fake] + [t for t in (p.real_adv, p.fake_adv) if t is not None]
        value = sum(tf.reduce_sum(t**2) for t in outputs) + tf.cast(p.norm, tf.float32)
    grads = tape.gradient(value, d.trainable_variables)
    assert all(g is None or np.all(g.numpy() == 0) for g in grads), [v.path for v, g in zip(d.trainable_variables, grads) if g is not None]
    after = _snapshot(d)
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)
    # It did perturb something (the pass ran and moved inputs).
    moved = p.real_adv if p.real_adv is not None else p.real[-6:]
    assert float(tf.reduce_max(tf.abs(moved - x_r))) > 1e-6


def test_perturbation_uses_training_mode_scores(rng):
    """Stateless scoring still uses batch statistics (training mode), as D's loss does."""
    d = _stateful_discriminator()
    x = tf.constant(rng.normal(size=(6, 3)) + 2.0, tf.float32)
    c = Critic(d)
    stateless = c.score(x, stateless=True).numpy()
    inference = _flat(d(x, training=False))
    assert not np.allclose(stateless, inference, atol=1e-3)
    # Same numbers as a stateful training call would give, without its updates.
    before = _snapshot(d)
    np.testing.assert_allclose(c.score(x, stateless=True).numpy(), stateless, rtol=1e-6)
    assert all(np.array_equal(before[k], v) for k, v in _snapshot(d).items())
    np.testing.assert_allclose(_flat(d(x, training=True)), stateless, rtol=1e-4, atol=1e-5)


def _flat(t):
    return np.asarray(t).reshape(-1)
