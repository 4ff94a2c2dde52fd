"""SNGAN ResNet nets (dat_tf.nets.sngan) against mimicry's architecture."""

import math

import keras
import numpy as np
import pytest

from dat_tf.nets import auxiliary, sngan
from dat_tf.nets.auxiliary import feature_model
from dat_tf.nets.sngan import sngan_discriminator, sngan_generator

# ----------------------------------------------------------------------------
# mimicry's parameter counts.  torch is not installed here, so they are counted
# from the PyTorch layer shapes of kwotsin/mimicry (commit a7fda06, files
# torch_mimicry/nets/sngan/sngan_{32,48,64}.py and modules/resblocks.py):
# nn.Linear(i, o): i*o + o; nn.Conv2d(i, o, k): i*o*k*k + o; nn.BatchNorm2d(c):
# 2c (weight, bias; running stats are buffers); nn.utils.spectral_norm adds
# only buffers (weight_u, weight_v), its parameter weight_orig has the
# layer's shape.  GBlock(i, o, upsample): BN(i), conv3(i, o), BN(o), conv3(o, o),
# 1x1 shortcut conv(i, o) (learnable since upsample); DBlock(i, o, down):
# conv3(i, i), conv3(i, o), shortcut conv1(i, o) if i != o or down;
# DBlockOptimized(i, o): conv3(i, o), conv3(o, o), conv1(i, o).
# _mimicry_counts() below is that calculation; the literals are its output.
# ----------------------------------------------------------------------------
MIMICRY_G_PARAMS = {32: 4_276_739, 48: 4_878_083, 64: 12_220_675}
MIMICRY_D_PARAMS = {32: 1_053_825, 48: 10_141_441, 64: 10_141_441}


def _mimicry_counts(res):
    linear = lambda i, o: i * o + o  # noqa: E731
    conv = lambda i, o, k: i * o * k * k + o  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731
    gblock = lambda i, o: bn(i) + conv(i, o, 3) + bn(o) + conv(o, o, 3) + conv(i, o, 1)  # noqa: E731
    dblock = lambda i, o, down: conv(i, i, 3) + conv(i, o, 3) + (conv(i, o, 1) if (i != o or down) else 0)  # noqa: E731
    dopt = lambda i, o: conv(i, o, 3) + conv(o, o, 3) + conv(i, o, 1)  # noqa: E731
    ngf, bw, g_ch = {
        32: (256, 4, [256] * 4),
        48: (512, 6, [512, 256, 128, 64]),
        64: (1024, 4, [1024, 512, 256, 128, 64]),
    }[res]
    g = linear(128, bw * bw * ngf) + sum(gblock(a, b) for a, b in zip(g_ch[:-1], g_ch[1:]))
    g += bn(g_ch[-1]) + conv(g_ch[-1], 3, 3)
    if res == 32:
        d = dopt(3, 128) + dblock(128, 128, True) + dblock(128, 128, False) + dblock(128, 128, False) + linear(128, 1)
    else:
        d = dopt(3, 64) + dblock(64, 128, True) + dblock(128, 256, True) + dblock(256, 512, True)
        d += dblock(512, 1024, res == 64) + linear(1024, 1)
    return g, d


def _trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def test_mimicry_count_calculation_matches_the_literals():
    for res in (32, 48, 64):
        assert _mimicry_counts(res) == (MIMICRY_G_PARAMS[res], MIMICRY_D_PARAMS[res])


@pytest.mark.parametrize("res", [32, 48, 64])
def test_full_width_parameter_counts_equal_mimicry(res):
    g, d = sngan_generator(res), sngan_discriminator(res)
    assert _trainable_count(g) == MIMICRY_G_PARAMS[res]
    assert _trainable_count(d) == MIMICRY_D_PARAMS[res]
    # Non-trainable: BN moving stats in G; one spectral-norm vector_u per D layer.
    assert all("moving" in v.path for v in g.non_trainable_variables)
    assert all(v.path.endswith("vector_u") for v in d.non_trainable_variables)
    # Default widths and bottom sizes as mimicry.
    ngf = {32: 256, 48: 512, 64: 1024}[res]
    bw = {32: 4, 48: 6, 64: 4}[res]
    assert g.get_layer("l1_reshape").output.shape == (None, bw, bw, ngf)
    assert d.get_layer("features").output.shape == (None, {32: 128, 48: 1024, 64: 1024}[res])


@pytest.mark.parametrize(
    "res, width, local",
    [(32, 8, (8, 8, 8)), (48, 16, (3, 3, 8)), (64, 16, (4, 4, 8))],
)
def test_small_width_shapes_and_range(res, width, local, rng):
    g = sngan_generator(res, latent_dim=16, width=width)
    d = sngan_discriminator(res, width=width)
    assert g.input_shape == (None, 16) and g.output_shape == (None, res, res, 3)
    assert d.input_shape == (None, res, res, 3) and d.output_shape == (None, 1)
    x = g(rng.normal(size=(2, 16)).astype(np.float32), training=True).numpy()
    assert x.shape == (2, res, res, 3) and np.all(np.abs(x) <= 1.0)
    out = feature_model(d, ("local_features", "features"), logits=True)(x, training=False)
    assert out["logits"].shape == (2, 1)
    assert out["features"].shape == (2, width)
    assert tuple(out["local_features"].shape) == (2,) + local
    np.testing.assert_allclose(out["logits"], d(x, training=False), rtol=1e-5, atol=1e-5)


def test_block_structure_32():
    d = sngan_discriminator(32, width=8)
    pools = [l.name for l in d.layers if isinstance(l, keras.layers.AveragePooling2D)]
    # optimized block and block2 downsample (residual and shortcut); blocks 3 and 4 do not.
    assert sorted(pools) == ["block1_pool", "block1_sc_pool", "block2_pool", "block2_sc_pool"]
    names = {l.name for l in d.layers}
    assert "block2_c_sc" in names and "block3_c_sc" not in names and "block4_c_sc" not in names
    g = sngan_generator(32, width=8)
    assert len([l for l in g.layers if isinstance(l, keras.layers.UpSampling2D)]) == 6  # 3 blocks x (main, shortcut)
    assert len([l for l in g.layers if isinstance(l, keras.layers.BatchNormalization)]) == 7


@pytest.mark.parametrize("res", [32, 64])
def test_spectral_norm_on_every_d_layer_and_none_in_g(res):
    d = sngan_discriminator(res, width=16)
    for layer in d.layers:
        if layer.trainable_weights:
            assert isinstance(layer, keras.layers.SpectralNormalization), layer.name
    g = sngan_generator(res, width=16)
    assert not [l for l in g.layers if isinstance(l, keras.layers.SpectralNormalization)]
    bns = [l for l in g.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns and all(l.momentum == 0.9 and l.epsilon == 1e-5 for l in bns)  # PyTorch's defaults


def test_features_layer_is_the_input_of_the_last_layer(rng):
    d = sngan_discriminator(32, width=8)
    last = d.layers[-1]
    assert isinstance(last, keras.layers.SpectralNormalization) and last.layer.units == 1
    assert last.input is d.get_layer("features").output
    # phi = global *sum* pooling of the final ReLU.
    x = rng.uniform(-1, 1, size=(3, 32, 32, 3)).astype(np.float32)
    m = keras.Model(d.input, [d.get_layer("relu_out").output, d.get_layer("features").output])
    h, phi = (t.numpy() for t in m(x, training=False))
    np.testing.assert_allclose(phi, h.sum(axis=(1, 2)), rtol=1e-5, atol=1e-4)
    assert np.all(h >= 0)


def _fan(kernel_shape):
    rf = int(np.prod(kernel_shape[:-2])) if len(kernel_shape) == 4 else 1
    return kernel_shape[-2] * rf, kernel_shape[-1] * rf


def test_initialisation_is_mimicrys_xavier_with_torch_biases():
    d = sngan_discriminator(32, width=32)
    g = sngan_generator(32, latent_dim=128, width=32)
    checked = 0
    for model in (d, g):
        for layer in model.layers:
            inner = layer.layer if isinstance(layer, keras.layers.SpectralNormalization) else layer
            if not isinstance(inner, (keras.layers.Conv2D, keras.layers.Dense)):
                continue
            k, b = inner.kernel.numpy(), inner.bias.numpy()
            fan_in, fan_out = _fan(k.shape)
            # Residual-branch 3x3 convs: gain sqrt(2); shortcuts, G's first/last and D's last layer: gain 1.
            residual = layer.name.endswith(("_c1", "_c2"))
            gain = math.sqrt(2.0) if residual else 1.0
            limit = gain * math.sqrt(6.0 / (fan_in + fan_out))
            assert np.abs(k).max() <= limit + 1e-7, layer.name
            if k.size >= 1000:
                assert abs(k.std() - limit / math.sqrt(3)) < 0.1 * limit / math.sqrt(3), layer.name
                checked += 1
            bound = 1.0 / math.sqrt(fan_in)
            assert np.abs(b).max() <= bound + 1e-7 and np.abs(b).max() > 0, layer.name
    assert checked >= 10


def _torch_bilinear_up2(x):
    """PyTorch F.interpolate(scale_factor=2, mode='bilinear', align_corners=False) on [H, W]."""

    def axis_weights(n):
        src = np.maximum((np.arange(2 * n) + 0.5) / 2 - 0.5, 0.0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n - 1)
        w1 = src - i0
        m = np.zeros((2 * n, n))
        m[np.arange(2 * n), i0] += 1 - w1
        m[np.arange(2 * n), i1] += w1
        return m

    return axis_weights(x.shape[0]) @ x @ axis_weights(x.shape[1]).T


def test_generator_upsampling_is_torch_bilinear(rng):
    g = sngan_generator(32, width=8)
    ups = [l for l in g.layers if isinstance(l, keras.layers.UpSampling2D)]
    assert ups and all(l.interpolation == "bilinear" for l in ups)
    x = rng.normal(size=(1, 5, 5, 1)).astype(np.float32)
    got = ups[0](x).numpy()[0, :, :, 0]
    np.testing.assert_allclose(got, _torch_bilinear_up2(x[0, :, :, 0]), rtol=1e-5, atol=1e-6)
    nearest = sngan_generator(32, width=8, upsampling="nearest")
    assert all(l.interpolation == "nearest" for l in nearest.layers if isinstance(l, keras.layers.UpSampling2D))


@pytest.mark.parametrize("after_relu", [True, False])
def test_dblock_shortcut_sees_relu_as_mimicrys_inplace_relu(after_relu, rng):
    # block3 of the 32x32 D has an identity shortcut: out = c2(...) + relu(x) in
    # mimicry (nn.ReLU(inplace=True) rewrites x first), c2(...) + x in Chainer.
    d = sngan_discriminator(32, width=8, shortcut_after_relu=after_relu)
    names = ["block2_out", "block3_c2", "block3_out"]
    m = keras.Model(d.input, [d.get_layer(n).output for n in names])
    x = rng.uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
    h_in, res, out = (t.numpy() for t in m(x, training=False))
    assert (h_in < 0).any()
    shortcut = np.maximum(h_in, 0) if after_relu else h_in
    np.testing.assert_allclose(out, res + shortcut, rtol=1e-5, atol=1e-5)
    lf = keras.Model(d.input, d.get_layer("local_features").output)(x, training=False).numpy()
    # local features = relu(input of the last block) in both modes.
    m2 = keras.Model(d.input, d.get_layer("block3_out").output)
    np.testing.assert_allclose(lf, np.maximum(m2(x, training=False).numpy(), 0), rtol=1e-6, atol=1e-6)


def test_training_call_normalises_d_kernels(rng):
    d = sngan_discriminator(32, width=8)
    x = rng.uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
    d(x, training=True)
    k = d.get_layer("block2_c1").layer.kernel.numpy()
    sigma = np.linalg.svd(k.reshape(-1, k.shape[-1]), compute_uv=False)[0]
    assert 0.5 < sigma < 1.5  # one power iteration from random u: ~1, not the raw ~1.3+


def test_feature_model_shares_weights_and_falls_back_to_last_input(rng):
    d = sngan_discriminator(32, width=8)
    fm = feature_model(d, ("features",), logits=True)
    assert {id(v) for v in fm.trainable_variables} <= {id(v) for v in d.trainable_variables}
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="h"), keras.layers.Dense(1)])
    assert auxiliary.feature_tensor(plain, "features") is plain.layers[-1].input
    with pytest.raises(ValueError, match="local_features"):
        auxiliary.feature_tensor(plain, "local_features")


@pytest.mark.parametrize(
    "fn, kwargs, match",
    [
        (sngan_generator, {"resolution": 28}, "resolution"),
        (sngan_discriminator, {"resolution": 128}, "resolution"),
        (sngan_generator, {"resolution": 64, "width": 8}, "width"),
        (sngan_discriminator, {"resolution": 48, "width": 8}, "width"),
        (sngan_discriminator, {"resolution": 32, "width": 0}, "width"),
        (sngan_generator, {"resolution": 32, "latent_dim": 0}, "latent_dim"),
        (sngan_generator, {"resolution": 32, "upsampling": "bicubic"}, "upsampling"),
    ],
)
def test_bad_arguments(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)
