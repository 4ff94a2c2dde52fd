"""The DCGAN/WGAN nets of the paper's footnote 1 (Figures 4 and 5).

Design notes: docs/design.md, "DCGAN nets".

Example:

>>> g = dcgan_generator(latent_dim=100, resolution=32, channels=3, width=64)
>>> d = dcgan_discriminator(resolution=32, channels=3, width=64)
>>> g.output_shape, d.output_shape
((None, 32, 32, 3), (None, 1))
"""

from __future__ import annotations

import math

import keras

def _init():
    """N(0, 0.02) as in DCGAN; a fresh initializer per layer, so each layer draws its own
    weights from the global seed (``keras.utils.set_random_seed``)."""
    return keras.initializers.RandomNormal(stddev=0.02)


def _num_upsamplings(resolution):
    k = math.log2(resolution / 4) if isinstance(resolution, int) and resolution >= 8 else -1
    if k < 1 or k != int(k):
        raise ValueError(f"resolution must be 4 * 2**k with k >= 1 (8, 16, 32, 64, ...), got {resolution!r}.")
    return int(k)


def _check_positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")


def dcgan_generator(latent_dim: int = 100, resolution: int = 32, channels: int = 3, width: int = 64):
    """``z [B, latent_dim] -> x [B, resolution, resolution, channels]`` in [-1, 1]."""
    for name, value in (("latent_dim", latent_dim), ("channels", channels), ("width", width)):
        _check_positive(name, value)
    k = _num_upsamplings(resolution)
    top = width * 2 ** (k - 1)
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(4 * 4 * top, use_bias=False, kernel_initializer=_init(), name="project")(z)
    h = keras.layers.Reshape((4, 4, top))(h)
    h = keras.layers.BatchNormalization(name="bn_project")(h)
    h = keras.layers.ReLU()(h)
    for i in range(k - 1):
        h = keras.layers.Conv2DTranspose(
            top // 2 ** (i + 1), 4, strides=2, padding="same", use_bias=False, kernel_initializer=_init(),
            name=f"deconv{i}",
        )(h)
        h = keras.layers.BatchNormalization(name=f"bn{i}")(h)
        h = keras.layers.ReLU()(h)
    x = keras.layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", kernel_initializer=_init(), name="to_image"
    )(h)
    x = keras.layers.Activation("tanh", name="tanh")(x)
    return keras.Model(z, x, name="dcgan_generator")


def dcgan_discriminator(
    resolution: int = 32,
    channels: int = 3,
    width: int = 64,
    batch_norm: bool = True,
    spectral_norm: bool = False,
):
    """``x [B, resolution, resolution, channels] -> logits [B, 1]``."""
    for name, value in (("channels", channels), ("width", width)):
        _check_positive(name, value)
    k = _num_upsamplings(resolution)

    def wrap(layer):
        return keras.layers.SpectralNormalization(layer) if spectral_norm else layer

    x = keras.Input((resolution, resolution, channels), name="image")
    h = x
    for i in range(k):
        h = wrap(
            keras.layers.Conv2D(
                width * 2**i, 4, strides=2, padding="same", use_bias=i == 0, kernel_initializer=_init(),
                name=f"conv{i}",
            )
        )(h)
        if batch_norm and i > 0:
            h = keras.layers.BatchNormalization(name=f"bn{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    # A 4x4 valid convolution to one channel over a 4x4 map is a dense layer on
    # the flattened map; written as one so that the penultimate features
    # (used by RFM) are the input of the last layer.
    h = keras.layers.Flatten(name="features")(h)
    out = wrap(keras.layers.Dense(1, kernel_initializer=_init(), name="logit"))(h)
    return keras.Model(x, out, name="dcgan_discriminator")
