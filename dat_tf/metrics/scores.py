"""FID, KID and IS on precomputed activations / logits, through TF-GAN's functions.

All inputs are numpy arrays (or anything ``np.asarray`` takes); they are
computed in float64 and returned as Python floats.

* :func:`fid` — TF-GAN's ``frechet_classifier_distance_from_activations``
  (unbiased covariances, ``|m1 - m2|^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))``).
* :func:`kid` — TF-GAN's ``kernel_classifier_distance_and_std_from_activations``:
  unbiased MMD^2 with the cubic kernel ``k(x, y) = (x.y / d + 1)^3``; when the
  larger set has more than ``max_block_size`` rows both sets are cut into
  ``ceil(n / max_block_size)`` blocks and the block estimates averaged (the
  block estimator of arXiv:1307.1954).  ``std`` is TF-GAN's standard error over
  blocks (``nan`` with a single block).
* :func:`inception_score` — TF-GAN's ``classifier_score_from_logits``
  (``exp(E KL(p(y|x) || p(y)))``) on ``splits`` equal parts; mean and
  population std over the parts, as in the original Inception-score code.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dat_tf.metrics import tfgan


def _as_2d(x, name):
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2D array [N, D], got shape {x.shape}.")
    if len(x) < 2:
        raise ValueError(f"{name} needs at least 2 rows, got {len(x)}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or Inf.")
    return x


def _pair(act_real, act_fake):
    a, b = _as_2d(act_real, "act_real"), _as_2d(act_fake, "act_fake")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"act_real and act_fake differ in width: {a.shape[1]} vs {b.shape[1]}.")
    return a, b


def fid(act_real, act_fake) -> float:
    """Frechet distance between two activation sets ``[N1, D]``, ``[N2, D]``."""
    a, b = _pair(act_real, act_fake)
    return float(tfgan.frechet_classifier_distance_from_activations(tf.constant(a), tf.constant(b)))


# TF-GAN's KID loops over blocks with tf.map_fn: ~7x faster traced than eager.  One trace per
# (width, block size) with free row counts; TF-GAN reads the width statically.
_KID_FNS = {}


def _kid_graph(d, max_block_size):
    key = (d, max_block_size)
    if key not in _KID_FNS:
        fn = tf.function(
            lambda a, b: tfgan.kernel_classifier_distance_and_std_from_activations(a, b, max_block_size=max_block_size)
        )
        spec = tf.TensorSpec([None, d], tf.float64)
        _KID_FNS[key] = fn.get_concrete_function(spec, spec)
    return _KID_FNS[key]


def kid(act_real, act_fake, max_block_size: int = 1024) -> tuple[float, float]:
    """Kernel (Inception) distance ``(mean, std)``; see the module docstring."""
    if not isinstance(max_block_size, int) or isinstance(max_block_size, bool) or max_block_size < 2:
        raise ValueError(f"max_block_size must be an integer >= 2, got {max_block_size!r}.")
    a, b = _pair(act_real, act_fake)
    n_blocks = -(-max(len(a), len(b)) // max_block_size)
    if min(len(a), len(b)) < 2 * n_blocks:
        raise ValueError(
            f"KID with {n_blocks} blocks (max_block_size={max_block_size}) needs >= {2 * n_blocks} rows in "
            f"each set, got {len(a)} and {len(b)}."
        )
    mean, std = _kid_graph(a.shape[1], max_block_size)(tf.constant(a), tf.constant(b))
    return float(mean), float(std)


def inception_score(logits, splits: int = 10) -> tuple[float, float]:
    """Inception (classifier) score ``(mean, std)`` over ``splits`` equal parts of ``logits [N, K]``."""
    logits = _as_2d(logits, "logits")
    if not isinstance(splits, int) or isinstance(splits, bool) or not 1 <= splits <= len(logits):
        raise ValueError(f"splits must be an integer in [1, N={len(logits)}], got {splits!r}.")
    scores = [float(tfgan.classifier_score_from_logits(tf.constant(part))) for part in np.array_split(logits, splits)]
    return float(np.mean(scores)), float(np.std(scores))
