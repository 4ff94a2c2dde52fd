"""FID/KID/IS of a *run*: real data per the run's config, in-training callback, run loading.

The metric computation itself lives in :mod:`dat_tf.metrics`; this module
connects it to runs of :func:`dat_tf.training.train`:

* :func:`real_sources` gives the real train/test images of a config's dataset
  (A.2's splits) as streamed sources;
* :func:`load_run_generator` loads a run's generator at its newest (or a
  given) checkpoint;
* :class:`MetricsCallback` evaluates every ``every`` generator steps during
  ``fit`` and writes ``metrics/<name>`` scalars into the run's TensorBoard log
  directory, against the generator step, so TensorBoard shows them beside
  the losses.
"""

from __future__ import annotations

import glob
import json
import os

import keras
import tensorflow as tf

from dat_tf.config import TrainConfig


def real_sources(cfg: TrainConfig, splits=("train", "test")) -> dict | None:
    """``{split: source}`` for ``cfg.dataset``; ``None`` for digits (the metrics know them)."""
    if cfg.dataset == "digits":
        return None
    if cfg.dataset.startswith("mixture_"):
        raise ValueError(f"FID/KID/IS need image data, not --dataset={cfg.dataset!r}.")
    from dat_tf.image_data import image_dataset

    return {
        split: image_dataset(
            cfg.dataset, split, 500, data_dir=cfg.data_dir or None, shuffle=False, repeat=False, cache=False,
            download=False, resolution=cfg.resolution or None, drop_remainder=False,
        )
        for split in splits
    }


def load_config(run_dir: str) -> TrainConfig:
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{run_dir!r} is not a run directory: it has no config.json.")
    with open(path) as f:
        return TrainConfig(**json.load(f))


def available_steps(run_dir: str) -> list[int]:
    """Generator steps of the checkpoints present in ``run_dir/checkpoints``."""
    names = glob.glob(os.path.join(run_dir, "checkpoints", "ckpt-*.index"))
    return sorted(int(os.path.basename(n)[len("ckpt-") : -len(".index")]) for n in names)


def load_run_generator(run_dir: str, step: int | None = None):
    """``(generator, cfg, step)`` of a run at checkpoint ``step`` (default: the newest).

    Without checkpoints, the exported ``generator.keras`` is used.
    """
    cfg = load_config(run_dir)
    steps = available_steps(run_dir)
    if step is not None and step not in steps:
        raise ValueError(f"--step={step} has no checkpoint in {run_dir}/checkpoints; available steps: {steps}.")
    if not steps:
        path = os.path.join(run_dir, "generator.keras")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{run_dir!r} has neither checkpoints nor generator.keras.")
        return keras.models.load_model(path, compile=False), cfg, None
    from dat_tf.checkpointing import RunCheckpointer
    from dat_tf.training import build_gan

    step = steps[-1] if step is None else step
    gan = build_gan(cfg)
    ckpt = RunCheckpointer(gan, os.path.join(run_dir, "checkpoints"), keep=cfg.keep_checkpoints)
    ckpt.checkpoint.restore(os.path.join(run_dir, "checkpoints", f"ckpt-{step}")).assert_existing_objects_matched()
    return gan.generator, cfg, step


class MetricsCallback(keras.callbacks.Callback):
    """Computes FID/KID/IS every ``every`` generator steps and logs them to TensorBoard.

    Args:
      log_dir: the run's TensorBoard log directory.
      every: generator steps between evaluations (at the first epoch end at or
        past each multiple), > 0.
      cfg: the run's config (dataset, data_dir, resolution).
      classifier: as :func:`dat_tf.metrics.get_classifier` accepts.
      num_samples: generated images per evaluation.
      splits: real splits to compare with.
    """

    def __init__(self, log_dir, every, cfg: TrainConfig, classifier="digits", num_samples=5000, splits=("train", "test")):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}.")
        self.log_dir, self.every, self.cfg = log_dir, every, cfg
        self.classifier_name, self.num_samples, self.splits = classifier, num_samples, tuple(splits)
        self._classifier = None
        self._sources = None
        self._writer = None
        self._last = None
        self.history = []

    def on_train_begin(self, logs=None):
        from dat_tf.metrics import get_classifier

        if self._classifier is None:
            self._classifier = get_classifier(self.classifier_name)
            self._sources = real_sources(self.cfg, self.splits)
            self._writer = tf.summary.create_file_writer(self.log_dir)
        self._last = int(keras.ops.convert_to_numpy(self.model.g_steps))

    def on_epoch_end(self, epoch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.g_steps))
        if step // self.every > self._last // self.every:
            self._last = step
            self.evaluate_now(step, logs)

    def evaluate_now(self, step, logs=None):
        from dat_tf.metrics import evaluate

        rows = evaluate(
            self.model.generator, dataset=self.cfg.dataset, classifier=self._classifier,
            num_samples=self.num_samples, seeds=(0,), splits=self.splits, real_sources=self._sources,
        )
        with self._writer.as_default():
            for row in rows:
                tf.summary.scalar(f"metrics/{row['metric']}", row["mean"], step=step)
                if logs is not None:
                    logs[row["metric"]] = row["mean"]
        self._writer.flush()
        self.history.append({"step": step, **{r["metric"]: r["mean"] for r in rows}})
        return rows
