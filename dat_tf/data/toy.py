"""The 2D Gaussian mixtures of the paper's Figure 3, generated (no data needed).

:func:`gaussian_mixture` streams ``[n_dis * batch_size, 2]`` batches forever,
deterministic given its seed: nine Gaussians with means on ``{-1, 0, 1}^2``,
``"balanced"`` or ``"imbalanced"`` (column weights 0.15, 0.05, 0.8 from left to
right).  The paper says "variance 0.1", so the default std is ``sqrt(0.1)`` ~
0.316; ``std=0.1`` is the other reading common in the mode-collapse literature.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from dat_tf.data.batching import _check_batch
from dat_tf.replicas import RNG_ALG

MIXTURE_WEIGHTS = {
    "balanced": (1 / 3, 1 / 3, 1 / 3),
    "imbalanced": (0.15, 0.05, 0.8),
}


def mixture_modes() -> np.ndarray:
    """The nine means, shape ``[9, 2]``, ordered column by column (x = -1, 0, 1)."""
    return np.array([(x, y) for x in (-1.0, 0.0, 1.0) for y in (-1.0, 0.0, 1.0)], np.float32)


def mixture_weights(kind: str) -> np.ndarray:
    """Per-mode probabilities, shape ``[9]``, in the order of :func:`mixture_modes`."""
    if kind not in MIXTURE_WEIGHTS:
        raise ValueError(f"Unknown mixture {kind!r}; expected one of {sorted(MIXTURE_WEIGHTS)}.")
    cols = np.asarray(MIXTURE_WEIGHTS[kind], np.float64)
    return np.repeat(cols / 3.0, 3)


DEFAULT_STD = math.sqrt(0.1)


def sample_mixture(num: int, kind: str = "balanced", std: float = DEFAULT_STD, seed: int = 0) -> np.ndarray:
    """``num`` points from the mixture as a numpy array ``[num, 2]``."""
    if not (isinstance(std, (int, float)) and std > 0 and math.isfinite(std)):
        raise ValueError(f"std must be a finite number > 0, got {std!r}.")
    rng = np.random.default_rng(seed)
    idx = rng.choice(9, size=num, p=mixture_weights(kind))
    return (mixture_modes()[idx] + std * rng.standard_normal((num, 2))).astype(np.float32)


def gaussian_mixture(
    batch_size: int, kind: str = "balanced", std: float = DEFAULT_STD, n_dis: int = 1, seed: int = 0
) -> tf.data.Dataset:
    """Infinite ``tf.data`` stream of ``[n_dis * batch_size, 2]`` mixture batches."""
    _check_batch(batch_size, n_dis)
    sample_mixture(1, kind, std)  # validates kind and std
    logits = tf.constant(np.log(mixture_weights(kind))[None, :], tf.float32)
    modes = tf.constant(mixture_modes())
    n = batch_size * n_dis

    def make(i):
        s = tf.random.experimental.stateless_fold_in(tf.constant([seed, 7], tf.int64), i, alg=RNG_ALG)
        s1, s2 = tf.unstack(tf.random.experimental.stateless_split(s, 2, alg=RNG_ALG))
        idx = tf.random.stateless_categorical(logits, n, seed=s1)[0]
        noise = tf.random.stateless_normal([n, 2], seed=s2, alg=RNG_ALG)
        return tf.gather(modes, idx) + std * noise

    return tf.data.Dataset.range(2**62).map(make, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


