"""InfoMax-GAN's contrastive task (Lee, Tran, Cheung 2021), as mimicry implements it.

Design notes: docs/design.md, "InfoMax-GAN's task".

Example:

>>> import numpy as np
>>> l = np.ones((4, 1, 32), "float32"); m = np.ones((4, 32), "float32")
>>> round(float(np.exp(-infonce_loss(l, m))), 4)  # 1 positive among 4 equal scores
0.25
"""

from __future__ import annotations

import keras
import tensorflow as tf

from dat_tf.nets.auxiliary import AuxiliaryTask

from dat_tf.nets.sngan import sn_conv, sn_dense

NRKHS = 1024
D_SCALE = 0.2  # mimicry BaseDiscriminator(infomax_loss_scale=0.2)
G_SCALE = 0.2  # mimicry InfoMaxGANBaseGenerator(infomax_loss_scale=0.2)
_MASK_VALUE = 10.0  # mimicry: u_n = n_mask * u_n - 10 * (1 - n_mask)


def infonce_loss(local_features, global_features):
    """InfoNCE between local ``[N, H, W, R]`` (or ``[N, L, R]``) and global ``[N, R]`` features.

    Unscaled; equal to mimicry's ``BaseDiscriminator.infonce_loss(l, m)`` with
    ``l`` the channels-first ``[N, R, L]`` and ``m`` ``[N, R, 1]``.
    """
    l = tf.cast(tf.convert_to_tensor(local_features), tf.float32)
    m = tf.cast(tf.convert_to_tensor(global_features), tf.float32)
    if l.shape.rank == 4:
        l = tf.reshape(l, [tf.shape(l)[0], -1, tf.shape(l)[-1]])
    if l.shape.rank != 3 or m.shape.rank != 2:
        raise ValueError(
            f"infonce_loss expects local [N, H, W, R] or [N, L, R] and global [N, R]; got {l.shape} and {m.shape}."
        )
    if l.shape[-1] is not None and m.shape[-1] is not None and l.shape[-1] != m.shape[-1]:
        raise ValueError(f"local and global features must have the same size, got {l.shape[-1]} and {m.shape[-1]}.")
    n, n_loc = tf.shape(l)[0], tf.shape(l)[1]
    u_pos = tf.einsum("nlr,nr->nl", l, m)  # [N, L]: l_ik . m_i
    u_neg = tf.matmul(m, tf.reshape(l, [n * n_loc, -1]), transpose_b=True)  # [N, N*L]: m_i . l_jk
    self_mask = tf.repeat(tf.eye(n), n_loc, axis=1)  # 1 where j == i
    u_neg = (1.0 - self_mask) * u_neg - _MASK_VALUE * self_mask
    # log_softmax([u_pos_ik, u_neg_i...])[0] = u_pos_ik - logaddexp(u_pos_ik, logsumexp(u_neg_i)).
    lse_neg = tf.reduce_logsumexp(u_neg, axis=1, keepdims=True)  # [N, 1]
    log_prob = u_pos - tf.experimental.numpy.logaddexp(u_pos, lse_neg)
    return -tf.reduce_mean(log_prob)


def infomax_loss(local_projected, global_projected, scale=D_SCALE):
    """``scale * infonce_loss`` of already projected features (mimicry's ``compute_infomax_loss``)."""
    return scale * infonce_loss(local_projected, global_projected)


def projection_heads(local_channels: int, global_channels: int, nrkhs: int = NRKHS, prefix: str = ""):
    """The six spectrally normalised layers of mimicry's ``*_nrkhs_{a,b,sc}``, built.

    Returns a dict ``{"local_a", "local_b", "local_sc", "global_a", "global_b", "global_sc"}``.
    """
    c, g = int(local_channels), int(global_channels)
    heads = {
        "local_a": sn_conv(c, 1, c, 1.0, name=f"{prefix}local_nrkhs_a"),
        "local_b": sn_conv(nrkhs, 1, c, 1.0, name=f"{prefix}local_nrkhs_b"),
        "local_sc": sn_conv(nrkhs, 1, c, 1.0, name=f"{prefix}local_nrkhs_sc"),
        "global_a": sn_dense(g, g, 1.0, name=f"{prefix}global_nrkhs_a"),
        "global_b": sn_dense(nrkhs, g, 1.0, name=f"{prefix}global_nrkhs_b"),
        "global_sc": sn_dense(nrkhs, g, 1.0, name=f"{prefix}global_nrkhs_sc"),
    }
    heads["local_a"].build((None, None, None, c))
    heads["local_b"].build((None, None, None, c))
    heads["local_sc"].build((None, None, None, c))
    heads["global_a"].build((None, g))
    heads["global_b"].build((None, g))
    heads["global_sc"].build((None, g))
    return heads


@keras.saving.register_keras_serializable(package="dat_tf")
class InfoMaxTask(AuxiliaryTask):
    """InfoMax-GAN's contrastive task on D's ``"local_features"`` and ``"features"``.

    ``features_fn(x)`` must return a dict with both keys (see
    :func:`dat_tf.nets.auxiliary.feature_model`).
    ``discriminator_loss = d_scale * InfoNCE(project(l(x_real), m(x_real)))``
    (``x_fake`` unused, as in mimicry); ``generator_loss = g_scale *
    InfoNCE(project(l(x_fake), m(x_fake)))``.

    Args:
      nrkhs: projection size (1024).
      d_scale, g_scale: loss weights (0.2 and 0.2).
    """

    feature_names = ("local_features", "features")

    def __init__(
        self,
        nrkhs: int = NRKHS,
        d_scale: float = D_SCALE,
        g_scale: float = G_SCALE,
        name: str = "infomax_task",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not isinstance(nrkhs, int) or isinstance(nrkhs, bool) or nrkhs < 1:
            raise ValueError(f"nrkhs must be an integer >= 1, got {nrkhs!r}.")
        for key, value in (("d_scale", d_scale), ("g_scale", g_scale)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{key} must be a number >= 0, got {value!r}.")
        self.nrkhs = nrkhs
        self.d_scale = float(d_scale)
        self.g_scale = float(g_scale)

    def _build_heads(self, shapes):
        local, glob = shapes["local_features"], shapes["features"]
        if len(local) != 3 or len(glob) != 1:
            raise ValueError(
                "InfoMaxTask needs local features [H, W, C] and global features [C] per example; "
                f"got {local} and {glob}."
            )
        heads = projection_heads(local[-1], glob[-1], self.nrkhs)
        self.local_a, self.local_b, self.local_sc = heads["local_a"], heads["local_b"], heads["local_sc"]
        self.global_a, self.global_b, self.global_sc = heads["global_a"], heads["global_b"], heads["global_sc"]

    def project(self, local_features, global_features, training=True):
        """``([N, H, W, C], [N, C']) -> ([N, H, W, nrkhs], [N, nrkhs])`` (float32)."""
        l = self.local_b(tf.nn.relu(self.local_a(local_features, training=training)), training=training)
        l = l + self.local_sc(local_features, training=training)
        m = self.global_b(tf.nn.relu(self.global_a(global_features, training=training)), training=training)
        m = m + self.global_sc(global_features, training=training)
        return tf.cast(l, tf.float32), tf.cast(m, tf.float32)

    def contrastive_loss(self, features_fn, images, scale, training=True):
        """``scale * InfoNCE`` of the projected D features of ``images``."""
        f = self._features(features_fn, images)
        l, m = self.project(f["local_features"], f["features"], training=training)
        return infomax_loss(l, m, scale)

    def discriminator_loss(self, features_fn, x_real, x_fake=None, seed=None, training=True):
        return self.contrastive_loss(features_fn, x_real, self.d_scale, training=training)

    def generator_loss(self, features_fn, x_fake, seed=None, training=True):
        return self.contrastive_loss(features_fn, x_fake, self.g_scale, training=training)

    def get_config(self):
        return {**super().get_config(), "nrkhs": self.nrkhs, "d_scale": self.d_scale, "g_scale": self.g_scale}
