"""The unit a GAN step consumes: ``n_dis * batch_size`` examples."""

from __future__ import annotations

import tensorflow as tf


def _check_batch(batch_size, n_dis):
    for name, v in (("batch_size", batch_size), ("n_dis", n_dis)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}.")


def batch_for_gan(dataset: tf.data.Dataset, batch_size: int, n_dis: int = 1) -> tf.data.Dataset:
    """Batches an unbatched dataset of examples the way :class:`GAN` consumes it."""
    _check_batch(batch_size, n_dis)
    return dataset.batch(batch_size * n_dis, drop_remainder=True)

