"""A layer-wise upper-bound proxy of D's Lipschitz constant.

DAT's claim (paper section 4.3) is that it limits the discriminator's
Lipschitz constant *adaptively*.  Two views are logged during training:

* local: ``grad_norm_real`` / ``grad_norm_fake`` / ``grad_norm_interp``, the
  input-gradient norms of D at reals, fakes and interpolates
  (:class:`dat_tf.gan.GAN`);
* global: :func:`spectral_norm_product`, the product over D's dense and
  convolution layers of the largest singular value of each kernel reshaped
  to ``[fan_in, fan_out]``, the bound of Miyato et al. (2018) for
  1-Lipschitz activations.  It ignores BatchNorm's scaling and, for
  convolutions, is the usual proxy (the reshaped kernel's norm, not the
  convolution operator's exact norm).

Example:

>>> import keras
>>> d = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
>>> spectral_norm_product(d) > 0
True
"""

from __future__ import annotations

import keras
import numpy as np


def _kernels(layer):
    if isinstance(layer, keras.Model):
        for sub in layer.layers:
            yield from _kernels(sub)
        return
    if isinstance(layer, keras.layers.SpectralNormalization):
        yield layer.layer.name, layer.layer.kernel
        return
    if isinstance(layer, (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        yield layer.name, layer.kernel


def layer_spectral_norms(discriminator: keras.Model) -> dict:
    """``{layer name: largest singular value of its reshaped kernel}``."""
    out = {}
    for name, kernel in _kernels(discriminator):
        k = np.asarray(keras.ops.convert_to_numpy(kernel), np.float64)
        k = k.reshape(-1, k.shape[-1])
        out[name] = float(np.linalg.norm(k, ord=2))
    return out


def spectral_norm_product(discriminator: keras.Model) -> float:
    """Product of :func:`layer_spectral_norms` (1.0 for a net with no kernels)."""
    return float(np.prod(list(layer_spectral_norms(discriminator).values()) or [1.0]))
