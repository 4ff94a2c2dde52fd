"""Network builders: output shapes, layer structure, argument checks."""

import keras
import numpy as np
import pytest

from dat_tf import nets


def _layers_of(model, cls):
    return [l for l in model.layers if isinstance(l, cls)]


@pytest.mark.parametrize("latent_dim, data_dim, width, depth", [(2, 2, 64, 4), (5, 3, 7, 2), (1, 1, 3, 3)])
def test_mlp_shapes_and_depth(latent_dim, data_dim, width, depth, rng):
    g = nets.mlp_generator(latent_dim=latent_dim, data_dim=data_dim, width=width, depth=depth)
    d = nets.mlp_discriminator(data_dim=data_dim, width=width, depth=depth)
    assert g.output_shape == (None, data_dim) and g.input_shape == (None, latent_dim)
    assert d.output_shape == (None, 1) and d.input_shape == (None, data_dim)
    for m in (g, d):
        dense = _layers_of(m, keras.layers.Dense)
        assert len(dense) == depth
        assert [l.units for l in dense[:-1]] == [width] * (depth - 1)
    x = g(rng.normal(size=(4, latent_dim)).astype(np.float32))
    assert x.shape == (4, data_dim)
    assert d(x).shape == (4, 1)


def test_mlp_default_is_the_papers_four_layers_of_64():
    d = nets.mlp_discriminator()
    assert [l.units for l in _layers_of(d, keras.layers.Dense)] == [64, 64, 64, 1]
    # Last layer is linear (logits), hidden ones are followed by ReLU.
    assert len(_layers_of(d, keras.layers.ReLU)) == 3


def test_mlp_spectral_norm_wraps_every_dense():
    d = nets.mlp_discriminator(width=4, depth=3, spectral_norm=True)
    assert len(_layers_of(d, keras.layers.SpectralNormalization)) == 3
    assert len(_layers_of(d, keras.layers.Dense)) == 0  # all wrapped


@pytest.mark.parametrize(
    "fn, kwargs, bad",
    [
        (nets.mlp_generator, {"latent_dim": 0}, "0"),
        (nets.mlp_generator, {"data_dim": -2}, "-2"),
        (nets.mlp_discriminator, {"width": 2.5}, "2.5"),
        (nets.mlp_discriminator, {"depth": 1}, "1"),
        (nets.mlp_discriminator, {"data_dim": True}, "True"),
    ],
)
def test_mlp_bad_arguments(fn, kwargs, bad):
    with pytest.raises(ValueError) as info:
        fn(**kwargs)
    assert bad in str(info.value) and list(kwargs)[0] in str(info.value)


@pytest.mark.parametrize("resolution", [8, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(resolution, channels, rng):
    g = nets.dcgan_generator(latent_dim=6, resolution=resolution, channels=channels, width=4)
    d = nets.dcgan_discriminator(resolution=resolution, channels=channels, width=4)
    assert g.output_shape == (None, resolution, resolution, channels)
    assert d.input_shape == (None, resolution, resolution, channels)
    assert d.output_shape == (None, 1)
    x = g(rng.normal(size=(3, 6)).astype(np.float32), training=False).numpy()
    assert x.shape == (3, resolution, resolution, channels)
    assert np.all(np.abs(x) <= 1.0)  # tanh output
    assert d(x).shape == (3, 1)
    # Stride-2 convolutions: log2(R / 4) of them in D, then a dense logit on the 4x4 map.
    k = int(np.log2(resolution // 4))
    assert len(_layers_of(d, keras.layers.Conv2D)) == k
    assert len(_layers_of(g, keras.layers.Conv2DTranspose)) == k
    assert d.get_layer("features").output.shape == (None, 4 * 4 * 4 * 2 ** (k - 1))


def test_dcgan_default_is_dcgan_32():
    g = nets.dcgan_generator()
    d = nets.dcgan_discriminator()
    assert g.input_shape == (None, 100) and g.output_shape == (None, 32, 32, 3)
    assert [l.filters for l in _layers_of(d, keras.layers.Conv2D)] == [64, 128, 256]
    assert len(_layers_of(d, keras.layers.BatchNormalization)) == 2  # not after the first conv


def test_dcgan_discriminator_options():
    plain = nets.dcgan_discriminator(resolution=16, channels=1, width=2, batch_norm=False)
    assert not _layers_of(plain, keras.layers.BatchNormalization)
    sn = nets.dcgan_discriminator(resolution=16, channels=1, width=2, spectral_norm=True)
    assert len(_layers_of(sn, keras.layers.SpectralNormalization)) == 3  # 2 convs + logit


@pytest.mark.parametrize("resolution", [4, 12, 0, -8, 33, 48, "32", 32.0, None])
@pytest.mark.parametrize("which", ["generator", "discriminator"])
def test_dcgan_bad_resolution(resolution, which):
    fn = nets.dcgan_generator if which == "generator" else nets.dcgan_discriminator
    with pytest.raises(ValueError, match="resolution") as info:
        fn(resolution=resolution)
    assert repr(resolution) in str(info.value)


@pytest.mark.parametrize("kwargs", [{"channels": 0}, {"width": -1}])
def test_dcgan_bad_sizes(kwargs):
    name, value = next(iter(kwargs.items()))
    for fn in (nets.dcgan_generator, nets.dcgan_discriminator):
        with pytest.raises(ValueError, match=name) as info:
            fn(resolution=8, **kwargs)
        assert repr(value) in str(info.value)


def test_dcgan_weights_follow_the_global_seed_and_differ_per_layer():
    import keras

    from dat_tf.nets import dcgan_discriminator

    def build(seed):
        keras.utils.set_random_seed(seed)
        return dcgan_discriminator(resolution=32, channels=3, width=8, batch_norm=False)

    a, b, c = build(1), build(1), build(2)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert not np.allclose(a.get_layer("conv1").kernel.numpy(), c.get_layer("conv1").kernel.numpy())
    # Every layer draws its own weights (one shared initializer object would repeat them).
    k1, k2 = a.get_layer("conv1").kernel.numpy(), a.get_layer("conv2").kernel.numpy()
    assert not np.allclose(k1.ravel()[:50], k2.ravel()[:50])
