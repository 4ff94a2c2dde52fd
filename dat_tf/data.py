"""Data pipelines available offline: the 2D Gaussian mixtures and the digits.

Every pipeline yields float32 batches of ``n_dis * batch_size`` examples, the
unit :class:`dat_tf.gan.GAN` consumes per generator step, repeats forever and
is deterministic given its seed.

* :func:`gaussian_mixture` — the nine Gaussians of the paper's Figure 3, means
  on ``{-1, 0, 1}^2``; ``"balanced"`` or ``"imbalanced"`` (column weights 0.15,
  0.05, 0.8 from left to right).  The paper says "variance 0.1", so the default
  std is ``sqrt(0.1)`` ~ 0.316; ``std=0.1`` is the other reading common in the
  mode-collapse literature.
* :func:`digits` — scikit-learn's bundled 8x8 handwritten digits (1,797
  images, shipped inside its wheel) in ``[-1, 1]``, optionally resized.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from dat_tf.distributed import RNG_ALG

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


def _check_batch(batch_size, n_dis):
    for name, v in (("batch_size", batch_size), ("n_dis", n_dis)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}.")


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


def load_digits_array(resolution: int | None = None, split: str = "all", test_fraction: float = 0.2, seed: int = 0):
    """The 8x8 digits as ``(images [N, R, R, 1] in [-1, 1], labels [N])``.

    Args:
      resolution: output size (bilinear resize); ``None`` or 8 keeps 8x8.
      split: ``"all"``, ``"train"`` or ``"test"`` (a fixed, seeded
        ``test_fraction`` hold-out, stratified by nothing but the permutation).
    """
    from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}.")
    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 8.0 - 1.0)[..., None]  # 0..16 -> [-1, 1]
    labels = bunch.target.astype(np.int64)
    if split != "all":
        perm = np.random.default_rng(seed).permutation(len(images))
        n_test = int(round(test_fraction * len(images)))
        keep = perm[:n_test] if split == "test" else perm[n_test:]
        images, labels = images[keep], labels[keep]
    if resolution not in (None, 8):
        if not isinstance(resolution, int) or resolution < 1:
            raise ValueError(f"resolution must be a positive integer, got {resolution!r}.")
        images = tf.clip_by_value(tf.image.resize(images, (resolution, resolution)), -1.0, 1.0).numpy()
    return images, labels


def digits(
    batch_size: int, n_dis: int = 1, resolution: int | None = None, split: str = "train", seed: int = 0
) -> tf.data.Dataset:
    """Shuffled, repeated ``[n_dis * batch_size, R, R, 1]`` batches of digits."""
    _check_batch(batch_size, n_dis)
    images, _ = load_digits_array(resolution, split=split)
    ds = tf.data.Dataset.from_tensor_slices(images).cache()
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.batch(batch_size * n_dis, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def batch_for_gan(dataset: tf.data.Dataset, batch_size: int, n_dis: int = 1) -> tf.data.Dataset:
    """Batches an unbatched dataset of examples the way :class:`GAN` consumes it."""
    _check_batch(batch_size, n_dis)
    return dataset.batch(batch_size * n_dis, drop_remainder=True)
