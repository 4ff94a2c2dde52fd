"""SSGAN's rotation task (Chen et al. 2019), as mimicry implements it.

Design notes: docs/design.md, "SSGAN's rotation task".

Example:

>>> import numpy as np
>>> x = np.arange(8 * 2 * 2 * 1, dtype="float32").reshape(8, 2, 2, 1)
>>> _, labels = rotate_batch(x)
>>> labels.numpy().tolist()
[0, 0, 1, 1, 2, 2, 3, 3]
"""

from __future__ import annotations

import keras
import tensorflow as tf

from dat_tf.nets.auxiliary import AuxiliaryTask

from dat_tf.nets.sngan import sn_dense

NUM_ROTATIONS = 4
D_SCALE = 1.0  # mimicry SSGANBaseDiscriminator(ss_loss_scale=1.0)
G_SCALE = 0.2  # mimicry SSGANBaseGenerator(ss_loss_scale=0.2)


def rotation_labels(batch_size):
    """``[4 i // N for i in range(N)]`` as int32 (mimicry's ``_rotate_batch`` choices)."""
    n = tf.convert_to_tensor(batch_size, tf.int32)
    return (tf.range(n, dtype=tf.int32) * NUM_ROTATIONS) // n


def rotate_images(images, k):
    """Rotate ``[B, H, W, C]`` images by ``90 * k`` degrees counter-clockwise (``np.rot90`` on H, W).

    Equal to mimicry's ``_rot_tensor`` on ``(C, H, W)``: 90 is
    ``transpose(H, W)`` then flip H, 180 flips both, 270 is transpose then
    flip W.
    """
    return tf.image.rot90(images, k=k)


def rotate_batch(images):
    """``(rotated, labels)``: image ``i`` rotated by ``90 * labels[i]`` with ``labels[i] = 4 i // N``.

    Images must be square (``H == W``) as in mimicry.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"rotate_batch expects [B, H, W, C] images, got shape {images.shape}.")
    h, w = images.shape[1], images.shape[2]
    if h is not None and w is not None and h != w:
        raise ValueError(f"rotate_batch needs square images, got H={h}, W={w}.")
    labels = rotation_labels(tf.shape(images)[0])
    out = images
    for k in range(1, NUM_ROTATIONS):
        mask = tf.reshape(tf.equal(labels, k), [-1, 1, 1, 1])
        out = tf.where(mask, rotate_images(images, k), out)
    return out, labels


def rotation_loss(rot_logits, labels):
    """Mean softmax cross-entropy (``F.cross_entropy``) of ``[B, 4]`` logits against int labels ``[B]``."""
    rot_logits = tf.cast(rot_logits, tf.float32)
    labels = tf.cast(labels, tf.int32)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=rot_logits))


def rotation_head(in_features: int, name: str = "rotation_head"):
    """mimicry's ``l_y = SNLinear(ndf, 4)`` (Xavier gain 1, PyTorch bias init), built."""
    head = sn_dense(NUM_ROTATIONS, in_features, 1.0, name=name)
    head.build((None, in_features))
    return head


@keras.saving.register_keras_serializable(package="dat_tf")
class SSGANTask(AuxiliaryTask):
    """SSGAN's rotation-prediction task on D's ``"features"``.

    ``discriminator_loss = d_scale * CE(head(phi(rot(x_real))), labels)``;
    ``generator_loss = g_scale * CE(head(phi(rot(x_fake))), labels)``, with
    :func:`rotate_batch`.  ``x_fake`` is not used by the D loss (mimicry).

    Args:
      d_scale: weight of D's loss (1.0).
      g_scale: weight of G's loss (0.2).
    """

    feature_names = ("features",)

    def __init__(self, d_scale: float = D_SCALE, g_scale: float = G_SCALE, name: str = "ssgan_task", **kwargs):
        super().__init__(name=name, **kwargs)
        for key, value in (("d_scale", d_scale), ("g_scale", g_scale)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a number >= 0, got {value!r}.")
        self.d_scale = float(d_scale)
        self.g_scale = float(g_scale)
        self.head = None

    def _build_heads(self, shapes):
        (c,) = shapes["features"][-1:]
        self.head = rotation_head(c, name="rotation_head")

    def rotation_logits(self, features, training=True):
        """``[B, C]`` features -> ``[B, 4]`` rotation logits (float32)."""
        return tf.cast(self.head(features, training=training), tf.float32)

    def self_supervised_loss(self, features_fn, images, scale, training=True):
        """``scale * rotation_loss`` of the rotated ``images``."""
        rotated, labels = rotate_batch(images)
        phi = self._features(features_fn, rotated)["features"]
        return scale * rotation_loss(self.rotation_logits(phi, training=training), labels)

    def discriminator_loss(self, features_fn, x_real, x_fake=None, seed=None, training=True):
        return self.self_supervised_loss(features_fn, x_real, self.d_scale, training=training)

    def generator_loss(self, features_fn, x_fake, seed=None, training=True):
        return self.self_supervised_loss(features_fn, x_fake, self.g_scale, training=training)

    def get_config(self):
        return {**super().get_config(), "d_scale": self.d_scale, "g_scale": self.g_scale}
