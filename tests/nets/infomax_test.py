"""InfoMax-GAN task (dat_tf.nets.infomax) against mimicry's InfoMax-GAN."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.nets import infomax
from dat_tf.nets.infomax import InfoMaxTask, infomax_loss, infonce_loss
from dat_tf.nets.auxiliary import feature_model
from dat_tf.nets.sngan import sngan_discriminator, sngan_generator

# mimicry's InfoMaxGANDiscriminator{32,48,64} trainable parameters, counted from
# the torch layer shapes of torch_mimicry/nets/infomax_gan/infomax_gan_{32,48,64}.py
# (torch is not installed here): the SNGAN D (1,053,825 / 10,141,441 /
# 10,141,441, see tests/nets_sngan_test.py) plus, with c the local channels
# (ndf at 32, ndf/2 at 48/64), C = ndf and nrkhs = 1024,
# SNConv2d(c, c, 1) + 2 x SNConv2d(c, nrkhs, 1) + SNLinear(C, C) + 2 x SNLinear(C, nrkhs):
# 32: c = C = 128 -> 561,408;  48/64: c = 512, C = 1024 -> 4,462,080.
MIMICRY_SNGAN_D = {32: 1_053_825, 48: 10_141_441, 64: 10_141_441}
MIMICRY_INFOMAX_D = {32: 1_615_233, 48: 14_603_521, 64: 14_603_521}
FEATURE_SHAPES = {
    32: {"local_features": (8, 8, 128), "features": (128,)},
    48: {"local_features": (3, 3, 512), "features": (1024,)},
    64: {"local_features": (4, 4, 512), "features": (1024,)},
}


def _count(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def _mimicry_infonce(l, m):
    """Line-by-line numpy port of mimicry's BaseDiscriminator.infonce_loss (l [N, R, L], m [N, R, 1])."""
    n, units, n_locals = l.shape
    _, _, n_multis = m.shape
    l_p = l.transpose(0, 2, 1)
    m_p = m.transpose(0, 2, 1)
    l_n = l_p.reshape(-1, units)
    m_n = m_p.reshape(-1, units)
    u_p = np.matmul(l_p, m)[:, :, None, :]
    u_n = m_n @ l_n.T
    u_n = u_n.reshape(n, n_multis, n, n_locals).transpose(0, 2, 3, 1)
    mask = np.eye(n)[:, :, None, None]
    n_mask = 1 - mask
    u_n = (n_mask * u_n) - (10.0 * (1 - n_mask))
    u_n = np.broadcast_to(u_n.reshape(n, n * n_locals, n_multis)[:, None], (n, n_locals, n * n_locals, n_multis))
    pred = np.concatenate([u_p, u_n], axis=2)
    pred = pred - pred.max(axis=2, keepdims=True)
    log_sm = pred - np.log(np.exp(pred).sum(axis=2, keepdims=True))
    return -log_sm[:, :, 0].mean()


def test_constants_are_mimicrys():
    assert infomax.NRKHS == 1024 and infomax.D_SCALE == 0.2 and infomax.G_SCALE == 0.2
    task = InfoMaxTask()
    assert (task.nrkhs, task.d_scale, task.g_scale) == (1024, 0.2, 0.2)


def test_infonce_by_hand():
    # N = 2 images, one location, R = 1: l = (1, 2), m = (1, 0.5).
    # image 0: positive 1*1 = 1; candidates [1, -10 (self, masked), m0*l1 = 2]
    # image 1: positive 2*0.5 = 1; candidates [1, m1*l0 = 0.5, -10 (self)]
    l = np.array([[[1.0]], [[2.0]]], np.float32)
    m = np.array([[1.0], [0.5]], np.float32)
    want = 0.5 * (
        (math.log(math.e + math.exp(-10) + math.exp(2)) - 1)
        + (math.log(math.e + math.exp(0.5) + math.exp(-10)) - 1)
    )
    assert abs(float(infonce_loss(l, m)) - want) < 1e-6
    assert abs(float(infomax_loss(l, m, 0.2)) - 0.2 * want) < 1e-6


def test_infonce_mimicrys_own_test_case():
    # tests/nets/infomax_gan/test_infomax_gan_base.py: all-ones, N = 4 -> probability 1/4.
    loss = infonce_loss(np.ones((4, 1, 32), np.float32), np.ones((4, 32), np.float32))
    assert abs(math.exp(-float(loss)) - 0.25) < 1e-2


@pytest.mark.parametrize("n, h, w, r", [(3, 2, 2, 5), (5, 3, 3, 7), (2, 1, 4, 3)])
def test_infonce_matches_mimicry_port(n, h, w, r, rng):
    local = rng.normal(size=(n, h, w, r)).astype(np.float32)
    glob = rng.normal(size=(n, r)).astype(np.float32)
    l_chw = local.reshape(n, h * w, r).transpose(0, 2, 1).astype(np.float64)  # (N, R, H*W) as mimicry
    want = _mimicry_infonce(l_chw, glob.astype(np.float64)[:, :, None])
    np.testing.assert_allclose(float(infonce_loss(local, glob)), want, rtol=1e-5)
    np.testing.assert_allclose(float(infonce_loss(local.reshape(n, h * w, r), glob)), want, rtol=1e-5)


def test_infonce_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="same size"):
        infonce_loss(np.ones((2, 3, 3, 4), np.float32), np.ones((2, 5), np.float32))


@pytest.mark.parametrize("res", [32, 48, 64])
def test_head_parameter_counts_equal_mimicry(res):
    task = InfoMaxTask()
    task.build(FEATURE_SHAPES[res])
    assert MIMICRY_SNGAN_D[res] + _count(task.trainable_variables) == MIMICRY_INFOMAX_D[res]
    assert len(task.non_trainable_variables) == 6  # one vector_u per spectrally normalised layer


def test_feature_shapes_of_the_sngan_d_match_mimicrys_infomax_split():
    for res, width in ((32, 8), (48, 16), (64, 16)):
        d = sngan_discriminator(res, width=width)
        local_channels = width if res == 32 else width // 2  # mimicry: ndf at 32, ndf >> 1 at 48/64
        want = {
            "local_features": FEATURE_SHAPES[res]["local_features"][:2] + (local_channels,),
            "features": (width,),
        }
        got = {k: tuple(d.get_layer(k).output.shape[1:]) for k in want}
        assert got == want


def test_task_loss_equals_numpy_pipeline(rng):
    d = sngan_discriminator(32, width=8)
    task = InfoMaxTask(nrkhs=16)
    task.build(d)
    fm = feature_model(d, task.feature_names)
    x = rng.uniform(-1, 1, size=(4, 32, 32, 3)).astype(np.float32)
    features_fn = lambda t: fm(t, training=False)  # noqa: E731
    d_loss = float(task.discriminator_loss(features_fn, x, None, training=False))
    g_loss = float(task.generator_loss(features_fn, x, training=False))
    f = {k: v.numpy().astype(np.float64) for k, v in fm(x, training=False).items()}

    def w(layer):
        k, b = (t.numpy().astype(np.float64) for t in layer.layer.weights)
        return k.reshape(-1, k.shape[-1]), b

    def lin(t, layer):
        k, b = w(layer)
        return t @ k + b

    loc = f["local_features"].reshape(4, 64, 8)
    loc_p = lin(np.maximum(lin(loc, task.local_a), 0), task.local_b) + lin(loc, task.local_sc)
    glo = f["features"]
    glo_p = lin(np.maximum(lin(glo, task.global_a), 0), task.global_b) + lin(glo, task.global_sc)
    want = _mimicry_infonce(loc_p.transpose(0, 2, 1), glo_p[:, :, None])
    np.testing.assert_allclose(d_loss, 0.2 * want, rtol=1e-4)
    np.testing.assert_allclose(g_loss, 0.2 * want, rtol=1e-4)
    l_proj, m_proj = task.project(fm(x)["local_features"], fm(x)["features"], training=False)
    assert l_proj.shape == (4, 8, 8, 16) and m_proj.shape == (4, 16)


def test_gradients_reach_d_heads_and_g(rng):
    g = sngan_generator(32, latent_dim=16, width=8)
    d = sngan_discriminator(32, width=8)
    task = InfoMaxTask(nrkhs=32)
    task.build(d)
    fm = feature_model(d, task.feature_names)
    features_fn = lambda t: fm(t, training=True)  # noqa: E731
    x_real = rng.uniform(-1, 1, size=(4, 32, 32, 3)).astype(np.float32)
    z = rng.normal(size=(4, 16)).astype(np.float32)
    with tf.GradientTape() as tape:
        d_loss = task.discriminator_loss(features_fn, x_real, g(z), seed=tf.constant([3, 4]))
    d_vars = d.trainable_variables + task.trainable_variables
    grads = tape.gradient(d_loss, d_vars)
    assert d_loss.shape == () and np.isfinite(float(d_loss))
    missing = [v.path for v, gr in zip(d_vars, grads) if gr is None or not np.any(gr.numpy())]
    assert missing == ["logit/logit_dense/kernel", "logit/logit_dense/bias"]
    assert len(task.trainable_variables) == 12
    with tf.GradientTape() as tape:
        g_loss = task.generator_loss(features_fn, g(z, training=True))
    grads = tape.gradient(g_loss, g.trainable_variables)
    assert g_loss.shape == () and np.isfinite(float(g_loss))
    assert all(gr is not None and np.any(gr.numpy()) for gr in grads)


def test_graph_mode_and_config(rng):
    d = sngan_discriminator(32, width=8)
    task = InfoMaxTask(nrkhs=8, d_scale=0.3, g_scale=0.1)
    task.build(d)
    fm = feature_model(d, task.feature_names)

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
    def loss(x):
        return task.generator_loss(lambda t: fm(t, training=True), x)

    assert np.isfinite(float(loss(rng.uniform(-1, 1, size=(3, 32, 32, 3)).astype(np.float32))))
    clone = InfoMaxTask.from_config(task.get_config())
    assert (clone.nrkhs, clone.d_scale, clone.g_scale) == (8, 0.3, 0.1)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(task))
    assert restored.built and [tuple(v.shape) for v in restored.weights] == [tuple(v.shape) for v in task.weights]


def test_needs_local_features():
    d = sngan_discriminator(32, width=8)
    task = InfoMaxTask(nrkhs=8)
    task.build(d)
    x = np.zeros((4, 32, 32, 3), np.float32)
    only_phi = feature_model(d, ("features",))
    with pytest.raises(ValueError, match="local_features"):
        task.discriminator_loss(lambda t: only_phi(t)["features"], x, None)
    with pytest.raises(ValueError, match="local_features"):
        task.discriminator_loss(lambda t: only_phi(t), x, None)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="local_features"):
        InfoMaxTask().build(plain)
    with pytest.raises(ValueError, match="nrkhs"):
        InfoMaxTask(nrkhs=0)
