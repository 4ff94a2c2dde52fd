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


def gradient_norms_by_correctness(discriminator, loss, reals, fakes) -> dict:
    """D's per-example input-gradient norms, split by whether D scores each example correctly.

    Why: the paper's section 4.3 argues that DAT limits D's Lipschitz constant *adaptively*: like
    0-GP where D is right, relaxed where it is wrong.  Testing that needs the norm ``||d D(x_i) /
    d x_i||`` per example beside the side of the DAT target each example falls on: a real is scored
    correctly when ``g1(D(x_r_i)) >= mean_j g1(D(x_f_j))``, a fake when ``g2(D(x_f_i)) >= mean_j
    g2(D(x_r_j))`` (the targets of Eq. 9-10; section 4.3's "the discriminator is trained
    correctly").  D runs in training mode without changing its state, as the logged
    ``grad_norm_*`` diagnostics do.

    Args:
      discriminator: a Keras discriminator ``x -> [B] or [B, 1]``.
      loss: a registered loss name or :class:`dat_tf.losses.GANLoss` (its ``g1``, ``g2``).
      reals, fakes: batches of examples.

    Returns:
      ``{"real": {"norm": [B_r], "correct": [B_r] bool, "margin": [B_r]}, "fake": {...}}`` as numpy
      arrays; ``margin`` is the signed distance to the target in g-space (``g1(D(x_r_i)) - t_r``,
      ``g2(D(x_f_i)) - t_f``), ``correct`` is ``margin >= 0``.

    Example:

    >>> import keras, numpy as np
    >>> d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> out = gradient_norms_by_correctness(d, "ns", np.ones((4, 2), "float32"), -np.ones((3, 2), "float32"))
    >>> out["real"]["norm"].shape, out["fake"]["correct"].dtype
    ((4,), dtype('bool'))
    """
    import tensorflow as tf

    from dat_tf.critic import Critic
    from dat_tf.losses import get_loss

    critic, gan_loss = Critic(discriminator), get_loss(loss)
    reals, fakes = tf.convert_to_tensor(reals, tf.float32), tf.convert_to_tensor(fakes, tf.float32)
    score_r, score_f = critic.score(reals, stateless=True), critic.score(fakes, stateless=True)
    margin_r = gan_loss.g1(score_r) - tf.reduce_mean(gan_loss.g1(score_f))
    margin_f = gan_loss.g2(score_f) - tf.reduce_mean(gan_loss.g2(score_r))
    return {
        "real": {"norm": critic.gradient_norms(reals).numpy(), "correct": (margin_r >= 0).numpy(),
                 "margin": margin_r.numpy()},
        "fake": {"norm": critic.gradient_norms(fakes).numpy(), "correct": (margin_f >= 0).numpy(),
                 "margin": margin_f.numpy()},
    }


def adaptivity_ratio(split: dict) -> float:
    """Mean gradient norm at wrongly scored examples over that at correctly scored ones (reals and fakes
    pooled); ``nan`` when either group is empty.  Above 1: D is steeper where it is wrong."""
    norm = np.concatenate([split[s]["norm"] for s in ("real", "fake")])
    correct = np.concatenate([split[s]["correct"] for s in ("real", "fake")])
    if correct.all() or not correct.any():
        return float("nan")
    return float(norm[~correct].mean() / norm[correct].mean())


def margin_rank_correlation(split: dict) -> float:
    """Spearman's rank correlation between each example's margin and its gradient norm (reals and fakes
    pooled); ``nan`` with fewer than 3 examples or no spread.

    Why beside :func:`adaptivity_ratio`: once D scores every example correctly the ratio is undefined,
    while margins still differ.  Adaptive control (section 4.3) means D is steeper where its margin is
    small or negative: a more negative correlation.
    """
    from scipy.stats import spearmanr

    margin = np.concatenate([split[s]["margin"] for s in ("real", "fake")])
    norm = np.concatenate([split[s]["norm"] for s in ("real", "fake")])
    if len(margin) < 3 or np.ptp(margin) == 0 or np.ptp(norm) == 0:
        return float("nan")
    return float(spearmanr(margin, norm).statistic)
