"""FID/KID/IS during training: :class:`MetricsCallback` and the real data of a run's dataset."""

from __future__ import annotations

import keras
import tensorflow as tf

from dat_tf.train.schedules import crossed
from dat_tf.data.registry import get_dataset
from dat_tf.train.config import TrainConfig


def real_sources(cfg: TrainConfig, splits=("train", "test")) -> dict | None:
    """``{split: source}`` of ``cfg.dataset``'s real images (A.2's splits), unshuffled, one pass each.

    ``None`` for a dataset bundled with a package (digits): :func:`dat_tf.metrics.evaluate` loads it itself.
    """
    data = get_dataset(cfg.dataset)
    if data.kind != "images":
        raise ValueError(f"FID/KID/IS need image data, not --dataset={cfg.dataset!r}.")
    if data.source == "bundled":
        return None
    return {
        split: data.load(split, 500, resolution=cfg.resolution, data_dir=cfg.data_dir, download=False,
                         shuffle=False, repeat=False)
        for split in splits
    }


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

    If the classifier (e.g. Inception, offline) or the real data cannot be had, the callback says so in one
    line at the start and stays off (``off`` holds why): the run trains on.
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
        self.off = None  # why the metrics are off (the classifier or the real data is not available), else None

    def on_train_begin(self, logs=None):
        from dat_tf.data.errors import DatasetUnavailableError
        from dat_tf.metrics import InceptionUnavailableError, get_classifier

        if self._classifier is None and self.off is None:
            try:
                self._classifier = get_classifier(self.classifier_name)
                self._sources = real_sources(self.cfg, self.splits)
            except (InceptionUnavailableError, DatasetUnavailableError) as e:
                # Offline: the run trains on without metrics rather than fail now or after hours.
                self.off = str(e).strip().splitlines()[0].split(". ")[0].rstrip(".") + "."  # its first sentence
                print(f"In-training metrics (--metrics_every) are off for this run: {self.off} "
                      "(python bin/eval.py --helpfull: how to provide it.)", flush=True)
                return
            self._writer = tf.summary.create_file_writer(self.log_dir)
        self._last = int(keras.ops.convert_to_numpy(self.model.g_steps))

    def on_epoch_end(self, epoch, logs=None):
        if self.off is not None:
            return
        step = int(keras.ops.convert_to_numpy(self.model.g_steps))
        if crossed(self._last, step, self.every):
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

