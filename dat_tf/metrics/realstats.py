"""Real-set features, logits and moments, cached to ``.npz`` files.

The cache file name is the key: dataset (with its resolution), split,
classifier (its ``cache_key``, which hashes the weights file) and sample
count, e.g. ``digits@8-train-digits-1a2b3c4d5e6f-n1438.npz``.  A second call
with the same key reads the file and never runs the classifier.

The cache folder is ``cache_dir``, else ``$DAT_TF_METRICS_CACHE``, else
``~/.cache/dat_tf/metrics``.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from dat_tf.data.registry import DATASETS
from dat_tf.files import atomic_writer
from dat_tf.metrics.activations import DEFAULT_BATCH_SIZE, compute_activations


def default_cache_dir() -> str:
    return os.environ.get("DAT_TF_METRICS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "dat_tf", "metrics")


def real_images(dataset: str, split: str, resolution: int | None = None) -> np.ndarray:
    """All images ``[N, R, R, C]`` in ``[-1, 1]`` of a split of a dataset whose registry entry holds them
    (``arrays``: the offline digits), at ``resolution`` (``None``: native)."""
    entry = DATASETS.get(dataset)
    if entry is None or entry.arrays is None:
        held = [n for n, d in DATASETS.items() if d.arrays is not None]
        raise ValueError(
            f"Unknown dataset {dataset!r} for real images in memory; expected one of {held} (or pass real images / "
            "a tf.data dataset as source= with a dataset label)."
        )
    return entry.arrays(entry.split_for(split), resolution)


def cache_key(dataset: str, split: str, classifier_key: str, num_samples: int | None, resolution=None) -> str:
    res = f"@{resolution}" if resolution else ""
    count = "all" if num_samples is None else f"n{int(num_samples)}"
    raw = f"{dataset}{res}-{split}-{classifier_key}-{count}"
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", raw)


def real_statistics(
    dataset: str,
    split: str,
    classifier,
    num_samples: int | None = None,
    *,
    resolution: int | None = None,
    source=None,
    cache_dir: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    use_cache: bool = True,
) -> dict:
    """``{"features", "logits", "mu", "sigma", "n", "key", "path", "from_cache"}`` of a real split.

    Args:
      dataset, split: names; with ``source=None`` the images come from
        :func:`real_images` (then ``num_samples`` is capped at the split size).
      classifier: a :class:`dat_tf.metrics.classifiers.Classifier`.
      num_samples: how many real images (``None``: all).
      resolution: image size the real images are loaded at (the generator's).
      source: any sample source (array, ``tf.data``, sampler) to use instead of
        the built-in loader; ``dataset`` / ``split`` then only label the cache.
    """
    if source is None:
        source = real_images(dataset, split, resolution)
        num_samples = len(source) if num_samples is None else min(int(num_samples), len(source))
    key = cache_key(dataset, split, classifier.cache_key, num_samples, resolution)
    folder = cache_dir or default_cache_dir()
    path = os.path.join(folder, key + ".npz")
    if use_cache and os.path.isfile(path):
        with np.load(path, allow_pickle=False) as f:
            stats = {k: f[k] for k in ("features", "logits", "mu", "sigma")}
        stats.update(n=len(stats["features"]), key=key, path=path, from_cache=True)
        return stats
    features, logits = compute_activations(source, classifier, num_samples, batch_size)
    f64 = features.astype(np.float64)
    stats = {
        "features": features,
        "logits": logits,
        "mu": f64.mean(axis=0),
        "sigma": np.cov(f64, rowvar=False) if len(f64) > 1 else np.zeros((f64.shape[1],) * 2),
    }
    if use_cache:
        os.makedirs(folder, exist_ok=True)
        meta = json.dumps({"dataset": dataset, "split": split, "classifier": classifier.cache_key,
                           "num_samples": num_samples, "resolution": resolution})
        with atomic_writer(path, "wb") as f:  # concurrent readers never see half a file
            np.savez(f, meta=np.array(meta), **stats)
    stats.update(n=len(features), key=key, path=path, from_cache=False)
    return stats
