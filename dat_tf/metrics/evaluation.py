"""FID / KID (train and test) and IS of a generator, with mean and spread over seeds.

As in the paper's appendix A.2 and mimicry's ``evaluate(num_runs=3)``: for every
evaluation seed, ``num_samples`` images are generated (batch by batch), their
classifier features are compared with the real *train* split (``fid_train``,
``kid_train``) and the real *test* split (``fid_test``, ``kid_test``), and the
Inception score of their logits is taken over ``is_splits`` parts.  The real
statistics are computed once and cached (:mod:`dat_tf.metrics.realstats`).
Each metric is reported as ``mean`` and ``std`` (population std, ``np.std``,
as mimicry) over the seeds, with the per-seed ``values``; KID's per-seed
block standard errors from TF-GAN are in ``block_std``.
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np

from dat_tf.metrics.activations import DEFAULT_BATCH_SIZE, compute_activations, generator_sampler
from dat_tf.metrics.classifiers import get_classifier
from dat_tf.metrics.realstats import real_statistics
from dat_tf.metrics.scores import fid, inception_score, kid

SPLITS = ("train", "test")


def load_generator(path: str) -> keras.Model:
    """A saved Keras generator ``z -> images`` (``.keras`` / ``.h5``)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"generator file not found: {path!r}.")
    return keras.saving.load_model(path, compile=False)


def _resolution_of(generator):
    shape = tuple(getattr(generator, "output_shape", ()) or ())
    return int(shape[1]) if len(shape) == 4 and shape[1] is not None else None


def evaluate(
    generator,
    *,
    dataset: str = "digits",
    classifier="digits",
    num_samples: int = 10000,
    seeds=(0, 1, 2),
    splits=SPLITS,
    num_real_samples: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    is_splits: int = 10,
    kid_max_block_size: int = 1024,
    resolution: int | None = None,
    cache_dir: str | None = None,
    real_sources: dict | None = None,
    sampler_fn=None,
    timings: dict | None = None,
) -> list[dict]:
    """Returns one dict per metric: ``{"metric", "mean", "std", "values", ...}``.

    Args:
      generator: a Keras model ``z -> images`` or the path of one (latent size
        from its input shape); ignored when ``sampler_fn`` is given.
      dataset: real dataset name (``"digits"``), or a label for ``real_sources``.
      classifier: a name / path for :func:`get_classifier` or a Classifier.
      num_samples: generated images per seed.
      seeds: evaluation seeds (one generated set each).
      splits: real splits to compare with (``"train"``, ``"test"``).
      num_real_samples: real images per split (``None``: the whole split).
      resolution: size to load real images at; default the generator's output size.
      real_sources: optional ``{split: sample source}`` replacing the built-in loader.
      sampler_fn: optional ``seed -> (n -> images)`` instead of ``generator``.
      timings: optional dict, filled with seconds spent on ``real_features``,
        ``fake_features`` (generation included) and ``scores``.
    Metrics: ``fid_<split>``, ``kid_<split>`` for each split, then ``is``.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed.")
    if not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an integer >= 2, got {num_samples!r}.")
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected some of {list(SPLITS)}.")
    clf = get_classifier(classifier)
    if sampler_fn is None:
        if isinstance(generator, (str, os.PathLike)):
            generator = load_generator(os.fspath(generator))
        resolution = resolution or _resolution_of(generator)

        def sampler_fn(seed):
            return generator_sampler(generator, seed)

    real = {}
    t0 = time.perf_counter()
    for split in splits:
        source = (real_sources or {}).get(split)
        real[split] = real_statistics(
            dataset, split, clf, num_real_samples, resolution=resolution, source=source, cache_dir=cache_dir,
            batch_size=batch_size,
        )
    t_real = time.perf_counter() - t0

    per_seed = {name: [] for split in splits for name in (f"fid_{split}", f"kid_{split}")}
    per_seed["is"] = []
    kid_block_std = {split: [] for split in splits}
    is_split_std = []
    t_fake = t_scores = 0.0
    for seed in seeds:
        t0 = time.perf_counter()
        features, logits = compute_activations(sampler_fn(seed), clf, num_samples, batch_size)
        t1 = time.perf_counter()
        for split in splits:
            per_seed[f"fid_{split}"].append(fid(real[split]["features"], features))
            k_mean, k_std = kid(real[split]["features"], features, max_block_size=kid_max_block_size)
            per_seed[f"kid_{split}"].append(k_mean)
            kid_block_std[split].append(k_std)
        is_mean, is_std = inception_score(logits, splits=is_splits)
        per_seed["is"].append(is_mean)
        is_split_std.append(is_std)
        t_fake += t1 - t0
        t_scores += time.perf_counter() - t1

    common = {
        "num_samples": num_samples,
        "seeds": seeds,
        "dataset": dataset,
        "classifier": clf.name,
    }
    results = []
    for name, values in per_seed.items():
        row = {"metric": name, "mean": float(np.mean(values)), "std": float(np.std(values)),
               "values": [float(v) for v in values], **common}
        if name == "is":
            row["is_splits"] = is_splits
            row["split_std"] = [float(v) for v in is_split_std]
        else:
            split = name.split("_", 1)[1]
            row["num_real"] = int(real[split]["n"])
            row["real_from_cache"] = bool(real[split]["from_cache"])
            if name.startswith("kid"):
                row["block_std"] = [float(v) for v in kid_block_std[split]]
                row["max_block_size"] = kid_max_block_size
        results.append(row)
    if timings is not None:
        timings.update(real_features=t_real, fake_features=t_fake, scores=t_scores)
    return results
