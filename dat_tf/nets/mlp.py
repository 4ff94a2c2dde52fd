"""The fully-connected nets of the paper's 2D experiment (Figure 3).

"A four layers of fully-connected MLP with 64 hidden units per layer" (paper
section 5.1) for both players: three hidden ReLU layers of ``width`` units and
a linear output layer, four dense layers in all.

Example:

>>> g = mlp_generator(latent_dim=2)
>>> d = mlp_discriminator()
>>> g.output_shape, d.output_shape
((None, 2), (None, 1))
"""

from __future__ import annotations

import keras


def _check(name, value, low=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")


def _mlp(in_dim, out_dim, width, depth, name, spectral_norm=False):
    _check("width", width)
    _check("depth", depth, low=2)
    inp = keras.Input((in_dim,), name=f"{name}_input")
    h = inp
    for i in range(depth - 1):
        layer = keras.layers.Dense(width, name=f"{name}_dense{i}")
        if spectral_norm:
            layer = keras.layers.SpectralNormalization(layer, name=f"{name}_sn{i}")
        h = keras.layers.ReLU(name=f"{name}_relu{i}")(layer(h))
    out = keras.layers.Dense(out_dim, name=f"{name}_out")
    if spectral_norm:
        out = keras.layers.SpectralNormalization(out, name=f"{name}_sn_out")
    return keras.Model(inp, out(h), name=name)


def mlp_generator(latent_dim: int = 2, data_dim: int = 2, width: int = 64, depth: int = 4):
    """``z [B, latent_dim] -> x [B, data_dim]``, ``depth`` dense layers."""
    _check("latent_dim", latent_dim)
    _check("data_dim", data_dim)
    return _mlp(latent_dim, data_dim, width, depth, "mlp_generator")


def mlp_discriminator(data_dim: int = 2, width: int = 64, depth: int = 4, spectral_norm: bool = False):
    """``x [B, data_dim] -> logits [B, 1]``, ``depth`` dense layers."""
    _check("data_dim", data_dim)
    return _mlp(data_dim, 1, width, depth, "mlp_discriminator", spectral_norm=spectral_norm)
