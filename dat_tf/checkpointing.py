"""Checkpoints of a GAN run, and resuming from them.

A checkpoint holds everything a run needs to continue as if never stopped:
generator, discriminator, the auxiliary heads, both optimizers (Adam moments,
iteration counts) and ``GAN.g_steps``.  ``g_steps`` is also the random state:
latents and regularizer draws are stateless functions of (seed, g_steps), and
the training data stream is skipped to the same position on resume
(:func:`dat_tf.training.train`), so an interrupted and resumed run ends with
the same weights as an uninterrupted one.

Files are written by ``tf.train.CheckpointManager``: data files first, then
the ``checkpoint`` index (by an atomic rename), so a crash during a write
leaves the previous checkpoint loadable.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf


class RunCheckpointer:
    """Saves and restores one :class:`dat_tf.gan.GAN` under ``directory``.

    Args:
      gan: a compiled GAN (optimizers built).
      directory: where checkpoints go (created).
      keep: how many checkpoints to keep (>= 1).
    """

    def __init__(self, gan, directory: str, keep: int = 3):
        if gan.d_optimizer is None:
            raise ValueError("RunCheckpointer needs a compiled GAN (call gan.compile first).")
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an integer >= 1, got {keep!r}.")
        self.gan = gan
        self.directory = os.fspath(directory)
        self.checkpoint = tf.train.Checkpoint(model=gan, d_optimizer=gan.d_optimizer, g_optimizer=gan.g_optimizer)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=keep)

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.gan.g_steps))

    def save(self) -> str:
        """Writes a checkpoint numbered by the generator step; returns its path."""
        return self.manager.save(checkpoint_number=self.step())

    def restore_latest(self) -> int:
        """Restores the newest checkpoint, if any; returns the generator step (0 if none)."""
        path = self.latest
        if path is None:
            return 0
        self.checkpoint.restore(path).assert_existing_objects_matched()
        return self.step()


class CheckpointCallback(keras.callbacks.Callback):
    """Saves at the first epoch end at or past every ``every`` generator steps, and at the end."""

    def __init__(self, checkpointer: RunCheckpointer, every: int):
        super().__init__()
        if not isinstance(every, int) or every < 0:
            raise ValueError(f"every must be an integer >= 0, got {every!r}.")
        self.checkpointer = checkpointer
        self.every = every
        self._last = None

    def on_train_begin(self, logs=None):
        self._last = self.checkpointer.step()

    def on_epoch_end(self, epoch, logs=None):
        step = self.checkpointer.step()
        if self.every and step // self.every > self._last // self.every:
            self.checkpointer.save()
            self._last = step

    def on_train_end(self, logs=None):
        if self.checkpointer.step() != self._last or self.checkpointer.latest is None:
            self.checkpointer.save()
            self._last = self.checkpointer.step()
