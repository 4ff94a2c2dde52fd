"""FusedBatchNormalization: the fused kernel against a numpy reference and against Keras' own layer."""

import doctest
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.nets import layers
from dat_tf.nets.layers import FusedBatchNormalization, batch_norm_kernel


def _x(shape=(6, 5, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) * rng.uniform(0.5, 3, size=shape[-1]) + rng.normal(size=shape[-1])).astype("f4")


def _pair(**kw):
    fused, plain = FusedBatchNormalization(fused=True, **kw), FusedBatchNormalization(fused=False, **kw)
    for layer in (fused, plain):
        layer.build((None, 5, 4, 3))
    rng = np.random.default_rng(1)
    gamma, beta = rng.uniform(0.5, 2, 3).astype("f4"), rng.normal(size=3).astype("f4")
    for layer in (fused, plain):
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        layer.moving_mean.assign(np.full(3, 0.3, "f4"))
        layer.moving_variance.assign(np.full(3, 2.0, "f4"))
    return fused, plain, gamma, beta


def test_training_step_matches_the_closed_form():
    fused, _, gamma, beta = _pair(momentum=0.9, epsilon=1e-3)
    x = _x()
    y = keras.ops.convert_to_numpy(fused(x, training=True))
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased, as batch normalization normalizes
    np.testing.assert_allclose(y, gamma * (x - mean) / np.sqrt(var + 1e-3) + beta, rtol=1e-4, atol=1e-4)
    # Moving averages of the batch mean and of the *biased* variance (Keras' rule, not the kernel's n - 1).
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fused.moving_mean), 0.9 * 0.3 + 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fused.moving_variance), 0.9 * 2.0 + 0.1 * var, rtol=1e-5)


def test_fused_and_keras_paths_agree_on_outputs_state_and_gradients():
    fused, plain, _, _ = _pair(momentum=0.8, epsilon=1e-3)
    x = tf.constant(_x((8, 5, 4, 3), seed=3))
    w = tf.constant(_x((8, 5, 4, 3), seed=4))  # a loss that weighs every output differently
    out = {}
    for name, layer in (("fused", fused), ("plain", plain)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(w * y)
        gx, gg, gb = tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])
        out[name] = [y, gx, gg, gb, layer.moving_mean.value, layer.moving_variance.value]
    for a, b in zip(out["fused"], out["plain"]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_inference_and_unfusable_inputs_use_keras_code():
    fused, plain, _, _ = _pair()
    x = _x()
    np.testing.assert_allclose(np.asarray(fused(x, training=False)), np.asarray(plain(x, training=False)), rtol=1e-6)
    dense = FusedBatchNormalization()  # 2D input: not a fused case, Keras' code path
    assert not dense._fusable(tf.zeros([4, 3]), True, None)
    y = dense(_x((16, 3))[None, None].reshape(16, 3), training=True)
    assert tuple(y.shape) == (16, 3)
    channels_first = FusedBatchNormalization(axis=1)
    assert not channels_first._fusable(tf.zeros([2, 3, 4, 4]), True, None)


def test_stateless_call_leaves_the_moving_statistics_alone():
    inputs = keras.Input((5, 4, 3))
    model = keras.Model(inputs, FusedBatchNormalization(fused=True)(inputs))
    before = [np.asarray(v) for v in model.non_trainable_variables]
    _, new_state = model.stateless_call(model.trainable_variables, model.non_trainable_variables, _x(), training=True)
    for b, v in zip(before, model.non_trainable_variables):
        np.testing.assert_array_equal(np.asarray(v), b)
    assert any(not np.allclose(np.asarray(s), b) for s, b in zip(new_state, before))  # returned, not applied


def test_small_epsilon_is_raised_to_the_kernels_minimum():
    fused, _, gamma, beta = _pair(epsilon=1e-8)
    x = _x()
    x[..., 0] = 0.25  # a constant channel: the output is beta, whatever the epsilon
    y = np.asarray(fused(x, training=True))
    np.testing.assert_allclose(y[..., 0], beta[0], atol=1e-5)
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    expected = gamma * (x - mean) / np.sqrt(var + layers.FUSED_MIN_EPSILON) + beta
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_kernel_choice_is_scoped_and_survives_saving(tmp_path):
    assert FusedBatchNormalization().fused is True
    with batch_norm_kernel(fused=False):
        inner = FusedBatchNormalization()
    assert inner.fused is False and FusedBatchNormalization().fused is True
    with pytest.raises(ValueError, match="fused must be True or False, got 'yes'"):
        with batch_norm_kernel(fused="yes"):
            pass
    inputs = keras.Input((5, 4, 3))
    model = keras.Model(inputs, inner(inputs))
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.layers[-1]
    assert isinstance(layer, FusedBatchNormalization) and layer.fused is False
    np.testing.assert_allclose(np.asarray(loaded(_x(), training=False)), np.asarray(model(_x(), training=False)))


def test_docstring_example_runs():
    failures, _ = doctest.testmod(layers, raise_on_error=False)
    assert failures == 0
