"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, offline) in ``[-1, 1]``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dat_tf.data.batching import _check_batch


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

