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

from dat_tf.nets.layers import FusedBatchNormalization


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
    h = FusedBatchNormalization(name="bn_project")(h)
    h = keras.layers.ReLU()(h)
    for i in range(k - 1):
        h = keras.layers.Conv2DTranspose(
            top // 2 ** (i + 1), 4, strides=2, padding="same", use_bias=False, kernel_initializer=_init(),
            name=f"deconv{i}",
        )(h)
        h = FusedBatchNormalization(name=f"bn{i}")(h)
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
            h = FusedBatchNormalization(name=f"bn{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    # A 4x4 valid convolution to one channel over a 4x4 map is a dense layer on
    # the flattened map; written as one so that the penultimate features
    # (used by RFM) are the input of the last layer.
    h = keras.layers.Flatten(name="features")(h)
    out = wrap(keras.layers.Dense(1, kernel_initializer=_init(), name="logit"))(h)
    return keras.Model(x, out, name="dcgan_discriminator")


def rfm_discriminator(resolution: int = 32, channels: int = 3, width: int = 64, sigmoid: bool = False):
    """The DCGAN discriminator of the AR/RFM code base, which the paper follows for Table 3.

    Why a second DCGAN D: Table 3 compares regularizers whose meaning depends on D. The code base
    the paper names for that table (Zhou et al. 2019) trains a D with BatchNorm after *every*
    convolution, LeakyReLU 0.2, bias-free convolutions and no spectral normalization; a spectrally
    normalized D leaves the Lipschitz penalties (GP, LP) nothing to do. Its 128x128 net has five
    stride-2 convolutions; at other sizes the pattern keeps ``log2(resolution / 4)`` of them with
    ``width * 2**i`` channels (the PyTorch DCGAN example's progression), then BatchNorm, LeakyReLU and
    a 4x4 valid convolution to one output (a dense layer on the flattened 4x4 map).

    Args:
      resolution: image side, ``4 * 2**k`` with ``k >= 1``.
      channels: image channels.
      width: channels of the first convolution.
      sigmoid: end in a sigmoid, as that code base does (its LSGAN and WGAN lines act on the
        probability). Off, the output is the logit the non-saturating loss takes (BCE on a sigmoid
        output equals the non-saturating loss on its logit).

    The features (``"features"``, used by RFM and the auxiliary tasks) are the output of the last
    stride-2 convolution, before its BatchNorm, as in that code base's ``phi``.

    Example:

    >>> d = rfm_discriminator(resolution=32, channels=3, width=8)
    >>> d.output_shape, d.get_layer("features").output.shape
    ((None, 1), (None, 4, 4, 32))

    Reference:
      Zhou, Krähenbühl, "Don't let your discriminator be fooled", ICLR 2019,
      github.com/bradyz/robust-discriminator-pytorch (src/models.py).
    """
    for name, value in (("channels", channels), ("width", width)):
        _check_positive(name, value)
    k = _num_upsamplings(resolution)

    def bn(name):
        return FusedBatchNormalization(
            gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), name=name
        )

    x = keras.Input((resolution, resolution, channels), name="image")
    h = x
    for i in range(k):
        h = keras.layers.Conv2D(
            width * 2**i, 4, strides=2, padding="same", use_bias=False, kernel_initializer=_init(),
            name="features" if i == k - 1 else f"conv{i}",
        )(h)
        h = bn(f"bn{i}")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(1, use_bias=False, kernel_initializer=_init(), name="logit")(h)
    if sigmoid:
        out = keras.layers.Activation("sigmoid", name="probability")(out)
    return keras.Model(x, out, name="rfm_discriminator")
