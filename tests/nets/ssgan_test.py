"""SSGAN rotation task (dat_tf.nets.ssgan) against mimicry's SSGAN."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.nets import ssgan
from dat_tf.nets.auxiliary import feature_model
from dat_tf.nets.sngan import sngan_discriminator, sngan_generator
from dat_tf.nets.ssgan import SSGANTask, rotate_batch, rotation_loss

# mimicry's SSGANDiscriminator{32,48,64} trainable parameters = SNGAN D
# (1,053,825 / 10,141,441 / 10,141,441, see tests/nets_sngan_test.py) plus
# l_y = SNLinear(ndf, 4): 4 * ndf + 4, counted from the torch layer shapes of
# torch_mimicry/nets/ssgan/ssgan_{32,48,64}.py (torch is not installed here).
MIMICRY_SNGAN_D = {32: 1_053_825, 48: 10_141_441, 64: 10_141_441}
MIMICRY_SSGAN_D = {32: 1_054_341, 48: 10_145_541, 64: 10_145_541}
NDF = {32: 128, 48: 1024, 64: 1024}


def _count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def _mimicry_rot_tensor(chw, deg):
    """mimicry SSGANBaseDiscriminator._rot_tensor on a (C, H, W) numpy array."""
    if deg == 90:
        return np.flip(chw.transpose(0, 2, 1), 1)
    if deg == 180:
        return np.flip(np.flip(chw, 1), 2)
    if deg == 270:
        return np.flip(chw.transpose(0, 2, 1), 2)
    return chw


def _mimicry_rotate_batch(nhwc):
    """mimicry's _rotate_batch, on channels-last numpy images."""
    n = nhwc.shape[0]
    labels = [i * 4 // n for i in range(n)]
    out = [
        _mimicry_rot_tensor(nhwc[i].transpose(2, 0, 1), [0, 90, 180, 270][labels[i]]).transpose(1, 2, 0)
        for i in range(n)
    ]
    return np.stack(out), np.array(labels)


def test_constants_are_mimicrys():
    assert ssgan.D_SCALE == 1.0 and ssgan.G_SCALE == 0.2
    task = SSGANTask()
    assert task.d_scale == 1.0 and task.g_scale == 0.2


def test_rotation_of_a_2x2_image_by_hand():
    img = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32).reshape(1, 2, 2, 1)
    x = np.concatenate([img] * 4)
    rot, labels = rotate_batch(x)
    rot = rot.numpy()[..., 0]
    assert labels.numpy().tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(rot[0], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(rot[1], [[2, 4], [1, 3]])  # 90 counter-clockwise
    np.testing.assert_array_equal(rot[2], [[4, 3], [2, 1]])
    np.testing.assert_array_equal(rot[3], [[3, 1], [4, 2]])


@pytest.mark.parametrize("n, labels", [(8, [0, 0, 1, 1, 2, 2, 3, 3]), (6, [0, 0, 1, 2, 2, 3]), (3, [0, 1, 2])])
def test_rotate_batch_matches_mimicry(n, labels, rng):
    x = rng.normal(size=(n, 5, 5, 3)).astype(np.float32)
    got, got_labels = rotate_batch(x)
    want, want_labels = _mimicry_rotate_batch(x)
    assert got_labels.numpy().tolist() == labels == want_labels.tolist()
    np.testing.assert_array_equal(got.numpy(), want)
    for i in range(n):
        np.testing.assert_array_equal(got.numpy()[i], np.rot90(x[i], k=labels[i], axes=(0, 1)))


def test_rotate_batch_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        rotate_batch(np.zeros((4, 2, 3, 1), np.float32))


def test_rotation_loss_by_hand():
    logits = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]], np.float32)
    labels = np.array([2, 3])
    # row 0: log 4; row 1: logsumexp(1, 2, 3, 4) - 4 = log(e + e^2 + e^3 + e^4) - 4.
    want = 0.5 * (math.log(4.0) + math.log(sum(math.exp(v) for v in (1, 2, 3, 4))) - 4.0)
    assert abs(float(rotation_loss(logits, labels)) - want) < 1e-6
    assert abs(want - 0.5 * (1.3862944 + 0.4401897)) < 1e-6


def test_head_parameter_counts_equal_mimicry():
    for res in (32, 48, 64):
        task = SSGANTask()
        task.build({"features": (NDF[res],)})
        assert MIMICRY_SNGAN_D[res] + _count(task.trainable_variables) == MIMICRY_SSGAN_D[res]
    d = sngan_discriminator(32)
    task = SSGANTask()
    task.build(d)
    assert _count(d.trainable_variables) + _count(task.trainable_variables) == MIMICRY_SSGAN_D[32]
    assert isinstance(task.head, keras.layers.SpectralNormalization) and task.head.layer.units == 4
    assert [v.path.split("/")[-1] for v in task.non_trainable_variables] == ["vector_u"]


def _softmax_ce(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(labels)), labels].mean()


def test_task_losses_equal_numpy_pipeline(rng):
    d = sngan_discriminator(32, width=8)
    task = SSGANTask()
    task.build(d)
    fm = feature_model(d, task.feature_names)
    x = rng.uniform(-1, 1, size=(8, 32, 32, 3)).astype(np.float32)
    features_fn = lambda t: fm(t, training=False)  # noqa: E731
    d_loss = float(task.discriminator_loss(features_fn, x, None, seed=None, training=False))
    g_loss = float(task.generator_loss(features_fn, x, seed=None, training=False))
    rot, labels = _mimicry_rotate_batch(x)
    phi = fm(rot, training=False)["features"].numpy()
    kernel, bias = (w.numpy() for w in task.head.layer.weights)
    want = _softmax_ce(phi.astype(np.float64) @ kernel + bias, labels)
    assert abs(d_loss - 1.0 * want) < 1e-4 * max(1.0, want)
    assert abs(g_loss - 0.2 * want) < 1e-4 * max(1.0, want)
    # A bare tensor is accepted as "features".
    bare = lambda t: fm(t, training=False)["features"]  # noqa: E731
    assert abs(float(task.discriminator_loss(bare, x, None, training=False)) - d_loss) < 1e-5 * max(1, d_loss)


def test_gradients_reach_d_head_and_g(rng):
    g = sngan_generator(32, latent_dim=16, width=8)
    d = sngan_discriminator(32, width=8)
    task = SSGANTask()
    task.build(d)
    fm = feature_model(d, task.feature_names)
    features_fn = lambda t: fm(t, training=True)  # noqa: E731
    x_real = rng.uniform(-1, 1, size=(8, 32, 32, 3)).astype(np.float32)
    z = rng.normal(size=(8, 16)).astype(np.float32)
    with tf.GradientTape() as tape:
        x_fake = g(z, training=True)
        d_loss = task.discriminator_loss(features_fn, x_real, tf.stop_gradient(x_fake), seed=tf.constant([1, 2]))
    d_vars = d.trainable_variables + task.trainable_variables
    grads = tape.gradient(d_loss, d_vars)
    assert d_loss.shape == () and np.isfinite(float(d_loss))
    missing = [v.path for v, gr in zip(d_vars, grads) if gr is None or not np.any(gr.numpy())]
    assert missing == ["logit/logit_dense/kernel", "logit/logit_dense/bias"]  # the GAN logit is not used
    with tf.GradientTape() as tape:
        g_loss = task.generator_loss(features_fn, g(z, training=True), seed=None)
    grads = tape.gradient(g_loss, g.trainable_variables)
    assert g_loss.shape == () and np.isfinite(float(g_loss))
    assert all(gr is not None and np.any(gr.numpy()) for gr in grads)


def test_graph_mode_with_dynamic_batch(rng):
    d = sngan_discriminator(32, width=8)
    task = SSGANTask()
    task.build(d)
    fm = feature_model(d, task.feature_names)

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
    def loss(x):
        return task.discriminator_loss(lambda t: fm(t, training=True), x, x, None)

    for n in (4, 6):
        assert np.isfinite(float(loss(rng.uniform(-1, 1, size=(n, 32, 32, 3)).astype(np.float32))))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras' own h5 writer (numpy 2 __array__ copy=)
def test_config_build_and_tracking(tmp_path, rng):
    d = sngan_discriminator(32, width=8)
    task = SSGANTask(d_scale=0.5, g_scale=0.1)
    with pytest.raises(RuntimeError, match="build"):
        task.discriminator_loss(lambda t: t, np.zeros((4, 32, 32, 3), np.float32), None)
    task.build(d)
    task.build(d)  # idempotent
    with pytest.raises(ValueError, match="built for"):
        task.build({"features": (9,)})
    # The discriminator is not tracked by the task.
    assert len(task.trainable_variables) == 2 and len(task.weights) == 3
    clone = SSGANTask.from_config(task.get_config())
    assert (clone.d_scale, clone.g_scale, clone.name) == (0.5, 0.1, task.name)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(task))
    assert isinstance(restored, SSGANTask) and restored.built
    assert [tuple(v.shape) for v in restored.weights] == [tuple(v.shape) for v in task.weights]

    class Holder(keras.Model):
        def __init__(self, disc, aux):
            super().__init__()
            self.discriminator, self.auxiliary = disc, aux
            self.built = True

    path = str(tmp_path / "w.weights.h5")
    Holder(d, task).save_weights(path)
    d2 = sngan_discriminator(32, width=8)
    t2 = SSGANTask()
    t2.build(d2)
    Holder(d2, t2).load_weights(path)
    for a, b in zip(task.weights, t2.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("kwargs", [{"d_scale": -1.0}, {"g_scale": "0.2"}, {"d_scale": True}])
def test_bad_scales(kwargs):
    with pytest.raises(ValueError, match=list(kwargs)[0]):
        SSGANTask(**kwargs)
