"""The spectral-norm product against numpy, and on nets where it is known."""

import keras
import numpy as np

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
