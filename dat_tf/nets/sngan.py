"""The SNGAN ResNet nets of the paper's Tables 1 and 2, as in mimicry.

Design notes: docs/design.md, "SNGAN ResNets: what is carried over from mimicry".

Example:

>>> g = sngan_generator(32, width=8)
>>> d = sngan_discriminator(32, width=8)
>>> g.output_shape, d.output_shape, d.get_layer("features").output.shape
((None, 32, 32, 3), (None, 1), (None, 8))
"""

from __future__ import annotations

import math

import keras
from keras import ops

from dat_tf.nets.layers import FusedBatchNormalization

RESOLUTIONS = (32, 48, 64)

# Per resolution: G's bottom width, default ngf and the right-shift of ngf for
# each GBlock boundary; D's default ndf, the right-shift of ndf for each
# block's output and whether each block downsamples (block 0 is the
# optimized block, which always does).
_SPECS = {
    32: dict(bottom=4, ngf=256, g_shifts=(0, 0, 0, 0), ndf=128, d_shifts=(0, 0, 0, 0),
             d_down=(True, True, False, False)),
    48: dict(bottom=6, ngf=512, g_shifts=(0, 1, 2, 3), ndf=1024, d_shifts=(4, 3, 2, 1, 0),
             d_down=(True, True, True, True, False)),
    64: dict(bottom=4, ngf=1024, g_shifts=(0, 1, 2, 3, 4), ndf=1024, d_shifts=(4, 3, 2, 1, 0),
             d_down=(True, True, True, True, True)),
}

_SQRT2 = math.sqrt(2.0)


# ------------------------------------------------------------------ helpers


def xavier_uniform(gain: float = 1.0):
    """PyTorch's ``nn.init.xavier_uniform_(w, gain)``: ``U(+-gain*sqrt(6/(fan_in+fan_out)))``."""
    return keras.initializers.VarianceScaling(scale=float(gain) ** 2, mode="fan_avg", distribution="uniform")


def torch_bias_uniform(fan_in: int):
    """PyTorch's default bias initialisation of ``nn.Linear``/``nn.Conv2d``: ``U(+-1/sqrt(fan_in))``."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(minval=-bound, maxval=bound)


def sn_dense(units: int, in_features: int, gain: float = 1.0, name: str | None = None):
    """``SpectralNormalization(Dense)`` initialised as mimicry's ``SNLinear`` (Xavier ``gain``)."""
    return keras.layers.SpectralNormalization(
        keras.layers.Dense(
            units,
            kernel_initializer=xavier_uniform(gain),
            bias_initializer=torch_bias_uniform(in_features),
            name=None if name is None else f"{name}_dense",
        ),
        name=name,
    )


def sn_conv(filters: int, kernel: int, in_channels: int, gain: float, name: str | None = None):
    """``SpectralNormalization(Conv2D)`` (stride 1, same padding) as mimicry's ``SNConv2d``."""
    conv = _conv(filters, kernel, in_channels, gain, f"{name}_conv" if name else None)
    return keras.layers.SpectralNormalization(conv, name=name)


def _conv(filters, kernel, in_channels, gain, name):
    return keras.layers.Conv2D(
        filters,
        kernel,
        padding="same",
        kernel_initializer=xavier_uniform(gain),
        bias_initializer=torch_bias_uniform(in_channels * kernel * kernel),
        name=name,
    )


def _bn(name):
    return FusedBatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


@keras.saving.register_keras_serializable(package="dat_tf")
class GlobalSumPooling2D(keras.layers.Layer):
    """``[B, H, W, C] -> [B, C]``: sum over the spatial axes (mimicry's ``torch.sum(h, dim=(2, 3))``)."""

    def call(self, inputs):
        return ops.sum(inputs, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


def _check_resolution(resolution):
    if isinstance(resolution, bool) or resolution not in _SPECS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS} (mimicry's SNGAN sizes), got {resolution!r}.")
    return _SPECS[resolution]


def _check_width(name, width, default, shifts):
    if width is None:
        return default
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"{name} must be None or an integer >= 1, got {width!r}.")
    if width >> max(shifts) < 1:
        raise ValueError(
            f"{name}={width} is too small: the narrowest block has {name} >> {max(shifts)} channels, "
            f"so {name} must be >= {2 ** max(shifts)}."
        )
    return width


def _check_positive(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")


# ---------------------------------------------------------------- generator


def _g_block(x, in_ch, out_ch, name, upsample=True, interpolation="bilinear"):
    """mimicry's ``GBlock`` (hidden channels = out_ch)."""
    h = _bn(f"{name}_b1")(x)
    h = keras.layers.ReLU(name=f"{name}_relu1")(h)
    if upsample:
        h = keras.layers.UpSampling2D(2, interpolation=interpolation, name=f"{name}_up")(h)
    h = _conv(out_ch, 3, in_ch, _SQRT2, f"{name}_c1")(h)
    h = _bn(f"{name}_b2")(h)
    h = keras.layers.ReLU(name=f"{name}_relu2")(h)
    h = _conv(out_ch, 3, out_ch, _SQRT2, f"{name}_c2")(h)
    sc = x
    if in_ch != out_ch or upsample:
        if upsample:
            sc = keras.layers.UpSampling2D(2, interpolation=interpolation, name=f"{name}_sc_up")(sc)
        sc = _conv(out_ch, 1, in_ch, 1.0, f"{name}_c_sc")(sc)
    return keras.layers.Add(name=f"{name}_out")([h, sc])


def sngan_generator(
    resolution: int,
    latent_dim: int = 128,
    width: int | None = None,
    channels: int = 3,
    upsampling: str = "bilinear",
):
    """mimicry's ``SNGANGenerator{resolution}``: ``z [B, latent_dim] -> x [B, r, r, channels]`` in [-1, 1].

    Args:
      resolution: 32, 48 or 64.
      latent_dim: ``nz`` (128 in mimicry and the paper).
      width: ``ngf``; ``None`` is mimicry's (256 / 512 / 1024).
      channels: image channels (3).
      upsampling: ``"bilinear"`` (mimicry) or ``"nearest"`` (Chainer SNGAN).
    """
    spec = _check_resolution(resolution)
    _check_positive("latent_dim", latent_dim)
    _check_positive("channels", channels)
    if upsampling not in ("bilinear", "nearest"):
        raise ValueError(f"upsampling must be 'bilinear' or 'nearest', got {upsampling!r}.")
    ngf = _check_width("width", width, spec["ngf"], spec["g_shifts"])
    chans = [ngf >> s for s in spec["g_shifts"]]
    bw = spec["bottom"]

    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(
        bw * bw * chans[0],
        kernel_initializer=xavier_uniform(1.0),
        bias_initializer=torch_bias_uniform(latent_dim),
        name="l1",
    )(z)
    h = keras.layers.Reshape((bw, bw, chans[0]), name="l1_reshape")(h)
    for i, (c_in, c_out) in enumerate(zip(chans[:-1], chans[1:])):
        h = _g_block(h, c_in, c_out, f"block{i + 2}", upsample=True, interpolation=upsampling)
    h = _bn("b_out")(h)
    h = keras.layers.ReLU(name="relu_out")(h)
    h = _conv(channels, 3, chans[-1], 1.0, "c_out")(h)
    x = keras.layers.Activation("tanh", name="tanh")(h)
    return keras.Model(z, x, name=f"sngan_generator_{resolution}")


# ------------------------------------------------------------ discriminator


def _d_block_optimized(x, in_ch, out_ch, name):
    """mimicry's ``DBlockOptimized`` (always downsamples)."""
    h = sn_conv(out_ch, 3, in_ch, _SQRT2, f"{name}_c1")(x)
    h = keras.layers.ReLU(name=f"{name}_relu1")(h)
    h = sn_conv(out_ch, 3, out_ch, _SQRT2, f"{name}_c2")(h)
    h = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(h)
    sc = keras.layers.AveragePooling2D(2, name=f"{name}_sc_pool")(x)
    sc = sn_conv(out_ch, 1, in_ch, 1.0, f"{name}_c_sc")(sc)
    return keras.layers.Add(name=f"{name}_out")([h, sc])


def _d_block(x, in_ch, out_ch, downsample, name, shortcut_after_relu, relu_name=None):
    """mimicry's ``DBlock`` (hidden channels = in_ch)."""
    a = keras.layers.ReLU(name=relu_name or f"{name}_relu0")(x)
    h = sn_conv(in_ch, 3, in_ch, _SQRT2, f"{name}_c1")(a)
    h = keras.layers.ReLU(name=f"{name}_relu1")(h)
    h = sn_conv(out_ch, 3, in_ch, _SQRT2, f"{name}_c2")(h)
    if downsample:
        h = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(h)
    sc = a if shortcut_after_relu else x
    if in_ch != out_ch or downsample:
        sc = sn_conv(out_ch, 1, in_ch, 1.0, f"{name}_c_sc")(sc)
        if downsample:
            sc = keras.layers.AveragePooling2D(2, name=f"{name}_sc_pool")(sc)
    return keras.layers.Add(name=f"{name}_out")([h, sc])


def sngan_discriminator(
    resolution: int,
    width: int | None = None,
    channels: int = 3,
    shortcut_after_relu: bool = True,
):
    """mimicry's ``SNGANDiscriminator{resolution}``: ``x [B, r, r, channels] -> logits [B, 1]``.

    The model's last layer is ``"logit"`` (spectrally normalised ``Dense(1)``)
    applied to the layer ``"features"`` (global sum pooling of the final
    ReLU, ``[B, ndf]``), so ``D.layers[-1].input`` and
    ``D.get_layer("features").output`` both give phi.  ``"local_features"``
    is the ReLU at the input of the last block (``[B, 8, 8, ndf]`` at 32,
    ``[B, 3, 3, ndf/2]`` at 48, ``[B, 4, 4, ndf/2]`` at 64).

    Args:
      resolution: 32, 48 or 64.
      width: ``ndf``; ``None`` is mimicry's (128 / 1024 / 1024).
      channels: image channels (3).
      shortcut_after_relu: the shortcut of each ``DBlock`` takes ``relu(x)``
        as mimicry's in-place ReLU makes it (default) or ``x`` (Chainer).
    """
    spec = _check_resolution(resolution)
    _check_positive("channels", channels)
    ndf = _check_width("width", width, spec["ndf"], spec["d_shifts"])
    chans = [ndf >> s for s in spec["d_shifts"]]
    downs = spec["d_down"]
    n = len(chans)

    x = keras.Input((resolution, resolution, channels), name="image")
    h = _d_block_optimized(x, channels, chans[0], "block1")
    for i in range(1, n):
        last = i == n - 1
        h = _d_block(
            h,
            chans[i - 1],
            chans[i],
            downs[i],
            f"block{i + 1}",
            bool(shortcut_after_relu),
            relu_name="local_features" if last else None,
        )
    h = keras.layers.ReLU(name="relu_out")(h)
    feats = GlobalSumPooling2D(name="features")(h)
    out = sn_dense(1, chans[-1], 1.0, name="logit")(feats)
    return keras.Model(x, out, name=f"sngan_discriminator_{resolution}")


# ---------------------------------------------------- features for heads


# ------------------------------------------------------- auxiliary tasks


