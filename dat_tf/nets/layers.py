"""Layers the nets share: batch normalization on TensorFlow's fused kernel.

Why: Keras 3's ``BatchNormalization`` computes its training-mode statistics
with generic reductions (``Mean`` and ``SquaredDifference`` over the batch and
spatial axes) and normalizes with separate element-wise ops.  On a CPU that
took about 9% of an SNGAN-32 iteration's op time for well under 1% of its
FLOPs (benchmarks/README.md, the efficiency table's profile).  TensorFlow's
``FusedBatchNormV3`` does statistics, normalization and their gradient in one
kernel each (oneDNN on x86), about 3x faster on the generator's feature maps.
"""

from __future__ import annotations

import contextlib

import keras
from keras import ops

# Used by layers built without an explicit ``fused`` (the nets'); see :func:`batch_norm_kernel`.
_DEFAULT_FUSED = [True]
# FusedBatchNormV3 raises a smaller epsilon to this (as Keras 2's fused path did).
FUSED_MIN_EPSILON = 1.001e-5


@contextlib.contextmanager
def batch_norm_kernel(fused: bool):
    """Within the block, :class:`FusedBatchNormalization` layers built without ``fused`` take this value.

    For before/after comparisons (the benchmarks build the same net both ways)::

        with batch_norm_kernel(fused=False):
            g = build_sngan_generator(...)   # Keras' own statistics path
    """
    if not isinstance(fused, bool):
        raise ValueError(f"fused must be True or False, got {fused!r}.")
    _DEFAULT_FUSED.append(fused)
    try:
        yield
    finally:
        _DEFAULT_FUSED.pop()


@keras.saving.register_keras_serializable(package="dat_tf")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` whose training step uses TensorFlow's fused kernel.

    Same variables, arguments, moving-average update and inference path as
    Keras' layer (it is one, so checkpoints and ``synchronize_batch_norm``
    treat it alike).  The fused kernel runs when it computes the same thing:
    the TensorFlow backend, training mode, a 4D input normalized over its last
    axis, no mask, no renorm, not synchronized across replicas; anything else
    falls back to Keras' own code.  Two documented differences from that code:
    the kernel's float summation order (results agree to float32 rounding, not
    bit for bit), and an ``epsilon`` below ``1.001e-5`` raised to it.

    Args:
      fused: use the fused kernel where it applies; ``None`` takes the value
        set by :func:`batch_norm_kernel` (default ``True``).
      **kwargs: ``keras.layers.BatchNormalization``'s arguments.

    Example:
      >>> import numpy as np
      >>> layer = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
      >>> y = layer(np.random.normal(size=(8, 4, 4, 3)).astype("float32"), training=True)
      >>> tuple(y.shape)
      (8, 4, 4, 3)

    Reference:
      Ioffe, Szegedy, "Batch Normalization", ICML 2015.
    """

    def __init__(self, fused: bool | None = None, **kwargs):
        super().__init__(**kwargs)
        if fused is None:
            fused = _DEFAULT_FUSED[-1]
        if not isinstance(fused, bool):
            raise ValueError(f"fused must be True, False or None, got {fused!r}.")
        self.fused = fused

    def _fusable(self, inputs, training, mask) -> bool:
        return (
            self.fused and bool(training) and self.trainable and mask is None and not self.renorm
            and not self.synchronized and keras.backend.backend() == "tensorflow" and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = ops.cast(inputs, "float32")  # as Keras' layer: statistics in float32 whatever the compute dtype
        channels = x.shape[-1]
        gamma = ops.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        beta = ops.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x, gamma, beta, epsilon=max(self.epsilon, FUSED_MIN_EPSILON), data_format="NHWC", is_training=True
        )
        # The kernel returns the unbiased (n - 1) variance for the moving average; Keras' layer averages the
        # biased one it normalizes with.
        n = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), variance.dtype)
        variance = variance * (n - 1.0) / tf.maximum(n, 1.0)
        moving_mean = ops.cast(self.moving_mean, "float32")
        moving_variance = ops.cast(self.moving_variance, "float32")
        self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return ops.cast(y, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "fused": self.fused}
