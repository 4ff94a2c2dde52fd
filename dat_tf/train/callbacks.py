"""Keras callbacks for GAN runs: TensorBoard scalars and samples, progress lines.

:class:`TensorBoardLogger` writes, at the end of every Keras epoch (every
``log_every`` generator steps in ``bin/train.py``), the model's logs as
scalars against the *generator step* (``GAN.g_steps``), the quantity the
paper's x-axes count, plus ``lipschitz_sn_product`` (see
:mod:`dat_tf.metrics.lipschitz`), and every ``sample_every`` steps a picture of samples
from a fixed latent batch: a scatter plot over the real data for 2D data, an
image grid for images.  :class:`ProgressLogger` prints one line per epoch:
the generator step out of the run's total (so a resumed run goes on counting
where it was), the losses, the speed and an ETA.

Example:

>>> cb = TensorBoardLogger("/tmp/run/logs", sample_every=1000)  # doctest: +SKIP
>>> gan.fit(ds, steps_per_epoch=500, epochs=20, callbacks=[cb])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import time

import keras
import tensorflow as tf

from dat_tf import latents
from dat_tf.metrics.lipschitz import spectral_norm_product
from dat_tf.train.schedules import crossed
from dat_tf.viz import image_grid, scatter_png


class TensorBoardLogger(keras.callbacks.Callback):
    """Scalars every epoch and samples every ``sample_every`` generator steps.

    Args:
      log_dir: TensorBoard log directory (created).
      sample_every: generator steps between sample pictures; 0 disables them.
        Pictures are written at the first epoch end at or past each multiple.
      num_samples: size of the fixed latent batch.
      real_data: optional ``[N, 2]`` real points drawn behind 2D scatter plots.
      kind: ``"auto"`` (scatter for 2D outputs, grid for images), ``"scatter"``
        or ``"grid"``.
      seed: seed of the fixed latent batch.
    """

    def __init__(self, log_dir, sample_every=1000, num_samples=None, real_data=None, kind="auto", seed=1234):
        super().__init__()
        if kind not in ("auto", "scatter", "grid"):
            raise ValueError(f"kind must be 'auto', 'scatter' or 'grid', got {kind!r}.")
        if not isinstance(sample_every, int) or sample_every < 0:
            raise ValueError(f"sample_every must be an integer >= 0, got {sample_every!r}.")
        self.log_dir = os.fspath(log_dir)
        self.sample_every = sample_every
        self.num_samples = num_samples
        self.real_data = real_data
        self.kind = kind
        self.seed = seed
        self._writer = None
        self._z = None
        self._last_sample_step = -1

    def on_train_begin(self, logs=None):
        os.makedirs(self.log_dir, exist_ok=True)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        out_shape = self.model.generator.output_shape[1:]
        kind = self.kind
        if kind == "auto":
            kind = "scatter" if len(out_shape) == 1 and out_shape[0] == 2 else "grid"
        self._kind = kind
        n = self.num_samples or (1000 if kind == "scatter" else 64)
        if self._z is None:  # the first fit of a run: its first epoch end writes samples
            self._last_sample_step = -1
        self._z = latents.stateless([self.seed, 0], n, self.model.latent_dim)

    def _step(self):
        return int(keras.ops.convert_to_numpy(self.model.g_steps))

    def on_epoch_end(self, epoch, logs=None):
        step = self._step()
        with self._writer.as_default():
            for name, value in (logs or {}).items():
                tf.summary.scalar(name, float(value), step=step)
            tf.summary.scalar("lipschitz_sn_product", spectral_norm_product(self.model.discriminator), step=step)
            for role in ("d", "g"):
                opt = getattr(self.model, f"{role}_optimizer", None)
                if opt is not None:
                    tf.summary.scalar(f"lr_{role}", float(keras.ops.convert_to_numpy(opt.learning_rate)), step=step)
            if self.sample_every and crossed(self._last_sample_step, step, self.sample_every):
                self._last_sample_step = step
                self.write_samples(step)
        self._writer.flush()

    def write_samples(self, step):
        samples = keras.ops.convert_to_numpy(self.model.generator(self._z, training=False))
        if self._kind == "scatter":
            png = scatter_png(samples, self.real_data, title=f"step {step}")
            image = tf.image.decode_png(png, channels=3)[None]
        else:
            grid = image_grid(samples)
            if grid.shape[-1] not in (1, 3, 4):
                grid = grid[..., :3]
            image = grid[None]
        tf.summary.image("samples", image, step=step)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()


def format_duration(seconds: float) -> str:
    """``"45s"``, ``"6m20s"``, ``"2h05m"``: short, for an ETA.

    >>> format_duration(45.2), format_duration(380), format_duration(7500)
    ('45s', '6m20s', '2h05m')
    """
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressLogger(keras.callbacks.Callback):
    """One line per epoch end: ``step 1200/2000  d_loss 1.23  g_loss 0.98  2.1 it/s  ETA 6m20s``.

    The step is ``GAN.g_steps``, so a resumed run counts on from the step it
    resumed at (Keras' own bar restarts at "Epoch 1").  The speed is generator
    steps per second measured in this process since its first ``fit`` (a
    resumed run's ETA does not count the earlier process's time); one logger
    may serve several ``fit`` calls of one run.

    Args:
      total: the generator step the run trains to (``n_iter``).
      keys: the logs shown, when present.
      stream: where the lines go (default ``sys.stdout``).
    """

    def __init__(self, total: int, keys=("d_loss", "g_loss"), stream=None):
        super().__init__()
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"total must be an integer >= 1, got {total!r}.")
        self.total = total
        self.keys = tuple(keys)
        self.stream = stream
        self._seconds = 0.0  # time spent in this process's fits so far
        self._steps = 0  # generator steps trained in them
        self._t = self._at = None

    def _step(self):
        return int(keras.ops.convert_to_numpy(self.model.g_steps))

    def on_train_begin(self, logs=None):
        self._t, self._at = time.perf_counter(), self._step()

    def on_epoch_end(self, epoch, logs=None):
        now, step = time.perf_counter(), self._step()
        if self._t is not None:
            self._seconds += now - self._t
            self._steps += max(step - self._at, 0)  # a NaN rollback moves the step back: nothing gained
        self._t, self._at = now, step
        parts = [f"step {step}/{self.total}"]
        for k in self.keys:
            if k in (logs or {}):
                parts.append(f"{k} {float(logs[k]):.4g}")
        if self._steps and self._seconds > 0:
            rate = self._steps / self._seconds
            parts.append(f"{rate:.3g} it/s")
            if step < self.total:
                parts.append(f"ETA {format_duration((self.total - step) / rate)}")
        print("  ".join(parts), file=self.stream or sys.stdout, flush=True)
