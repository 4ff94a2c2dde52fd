"""One training run of a study: train from a flagfile plus overrides, evaluate, keep a JSON summary.

:func:`run_one` is what a study's worker process executes.  It writes
``<run_dir>/result.json`` holding the spec, the per-epoch training logs
(losses, D scores, input-gradient norms, perturbation norm), an optional FID/KID
curve and the final FID/KID/IS with the digits classifier.  A rerun of the same
spec returns that file instead of training again, so an interrupted study
resumes where it stopped; a run directory without ``result.json`` (a run killed
midway) is started afresh so that its curves are complete.

A run whose loss turns NaN or Inf is not an error of the study: it is recorded
with ``diverged_at`` and non-finite metrics, which the verdict rules count as
the worst outcome.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time

import keras

from dat_study.parallel import limit_threads
from dat_tf.files import write_json_atomic

RESULT = "result.json"


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What to train and how to evaluate it.

    Args:
      flagfile: a ``configs/*.flags`` file (the full-scale experiment), or ``""`` for a config made from the
        overrides alone.
      overrides: ``TrainConfig`` fields replacing the file's (the miniature:
        dataset, resolution, width, n_iter, seed, run_dir, ...); must hold ``run_dir``.
      curve_every: generator steps between FID/KID evaluations during training (0: none).
      eval_samples: generated images per evaluation.
      final_eval: evaluate FID/KID/IS at the end.
      classifier: the metrics' feature network (``"digits"`` offline).
      correctness_batches: at the end of training, measure D's per-example input-gradient norms
        split by correctness on this many batches of held-out reals and fresh fakes
        (:func:`measure_correctness`); 0: not measured.
    """

    flagfile: str
    overrides: tuple  # sorted (name, value) pairs, hashable and JSON-able
    curve_every: int = 0
    eval_samples: int = 2000
    final_eval: bool = True
    classifier: str = "digits"
    correctness_batches: int = 0

    @classmethod
    def make(cls, flagfile, overrides: dict, **kw) -> "RunSpec":
        if "run_dir" not in overrides:
            raise ValueError(f"overrides must hold run_dir, got {sorted(overrides)}.")
        return cls(flagfile, tuple(sorted(overrides.items())), **kw)

    @property
    def run_dir(self) -> str:
        return dict(self.overrides)["run_dir"]

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["overrides"] = dict(self.overrides)
        if not self.correctness_batches:
            del d["correctness_batches"]  # specs stored before the field existed still match
        return d


def load_result(spec: RunSpec) -> dict | None:
    """The stored result of ``spec`` if its run finished with exactly this spec."""
    path = os.path.join(spec.run_dir, RESULT)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError):
        return None
    return result if result.get("spec") == spec.to_json() else None


def _finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def run_one(spec: RunSpec) -> dict:
    """Trains and evaluates ``spec`` (or returns its stored result); see the module doc."""
    stored = load_result(spec)
    if stored is not None:
        stored["reused"] = True
        return stored
    limit_threads()
    from dat_tf.train.config import TrainConfig
    from dat_tf.train.metrics_callback import MetricsCallback
    from dat_tf.train.nan_guard import NonFiniteLossError
    from dat_tf.metrics import evaluate
    from dat_tf.train.loop import build_dataset, build_gan, train

    if os.path.isdir(spec.run_dir):
        shutil.rmtree(spec.run_dir)  # a killed run: start it again so that its logs are whole
    overrides = dict(spec.overrides)
    cfg = (TrainConfig.from_flagfile(spec.flagfile, **overrides) if spec.flagfile else TrainConfig(**overrides)).validate()
    gan, dataset = build_gan(cfg), build_dataset(cfg)
    # Keras histories per epoch; an epoch is log_every generator steps.
    callbacks, curve_cb = [], None
    if spec.curve_every:
        curve_cb = MetricsCallback(
            os.path.join(cfg.run_dir, "logs"), spec.curve_every, cfg, classifier=spec.classifier,
            num_samples=spec.eval_samples, splits=("train",),
        )
        callbacks.append(curve_cb)
    logs = EpochLogs()
    callbacks.append(logs)
    diverged_at = None
    start = time.time()
    try:
        train(cfg, callbacks=callbacks, gan=gan, dataset=dataset)
    except NonFiniteLossError as e:
        diverged_at = int(e.step)
    train_seconds = time.time() - start
    correctness = None
    if spec.correctness_batches and diverged_at is None:
        correctness = measure_correctness(gan, cfg, spec.correctness_batches)
    final = {}
    if spec.final_eval:
        if diverged_at is None:
            rows = evaluate(
                gan.generator, dataset=cfg.dataset, classifier=spec.classifier, num_samples=spec.eval_samples,
                seeds=(0,), splits=("train", "test"),
            )
            final = {r["metric"]: r["mean"] for r in rows}
        else:
            final = {m: float("nan") for m in ("fid_train", "kid_train", "fid_test", "kid_test", "is")}
    result = {
        "spec": spec.to_json(),
        "config": {k: getattr(cfg, k) for k in ("loss", "regularizer", "seed", "n_iter", "n_dis", "lr_d", "beta1")},
        "logs": logs.rows,
        "curve": [] if curve_cb is None else curve_cb.history,
        "final": {k: _finite_or_none(v) for k, v in final.items()},
        "diverged_at": diverged_at,
        "correctness": correctness,
        "train_seconds": train_seconds,
        "seconds": time.time() - start,
        "date": utc_now(),
        "code_version": code_version(),
    }
    os.makedirs(cfg.run_dir, exist_ok=True)  # a run that failed before writing anything has no folder yet
    write_json_atomic(os.path.join(cfg.run_dir, RESULT), result)
    result["reused"] = False
    return result


# Latents of the fresh fakes of measure_correctness: the same for every run (a stateless seed per batch).
CORRECTNESS_LATENT_SEED = 7919


def measure_correctness(gan, cfg, batches: int) -> dict:
    """D's per-example input-gradient norms split by correctness, at the end of training (section 4.3).

    Why: the paper says DAT limits D's slope adaptively, less where D is wrong; this is the
    measurement (:func:`dat_tf.metrics.lipschitz.gradient_norms_by_correctness`) on a fixed
    held-out sample.  Reals: the first ``batches`` batches of the dataset's *test* split (order
    seed 0, so the same images for every run); fakes: ``G(z)`` with ``z`` drawn statelessly from
    ``[CORRECTNESS_LATENT_SEED, batch index]`` (the same latents for every run).  Each batch has
    the run's ``batch_size`` and is scored on its own, as D saw its training batches (BatchNorm in
    training mode), and correctness is judged against that batch's targets.

    Returns:
      ``{"real": {"norm": [...], "correct": [...], "margin": [...]}, "fake": {...}, "ratio": wrong/right
      mean norm (:func:`dat_tf.metrics.lipschitz.adaptivity_ratio`), "rank_corr": Spearman of margin and
      norm (:func:`dat_tf.metrics.lipschitz.margin_rank_correlation`; NaN stored as None), "batches",
      "batch_size"}``.
    """
    import numpy as np

    from dat_tf import latents
    from dat_tf.data.registry import get_dataset
    from dat_tf.metrics.lipschitz import adaptivity_ratio, gradient_norms_by_correctness, margin_rank_correlation

    n = cfg.batch_size
    data = get_dataset(cfg.dataset).load("test", n, n_dis=1, seed=0, resolution=cfg.resolution,
                                          data_dir=cfg.data_dir, download=False, mixture_std=cfg.mixture_std)
    parts = []
    for b, reals in enumerate(data.take(batches)):
        z = latents.stateless([CORRECTNESS_LATENT_SEED, b], n, cfg.latent_dim)
        fakes = gan.generator(z, training=False)
        parts.append(gradient_norms_by_correctness(gan.discriminator, cfg.loss, reals, fakes))
    split = {side: {key: np.concatenate([p[side][key] for p in parts]) for key in ("norm", "correct", "margin")}
             for side in ("real", "fake")}
    out = {side: {"norm": [float(x) for x in split[side]["norm"]],
                  "correct": [bool(x) for x in split[side]["correct"]],
                  "margin": [float(x) for x in split[side]["margin"]]} for side in split}
    out.update(ratio=_finite_or_none(adaptivity_ratio(split)), rank_corr=_finite_or_none(margin_rank_correlation(split)),
               batches=len(parts), batch_size=n)
    return out


def utc_now() -> str:
    """The time now, as the results pages print it."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def code_version() -> str:
    """The git commit of this checkout (``+ uncommitted changes`` if dat_tf/, bin/ or configs/ differ from it)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=30)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "dat_tf", "bin",
                                "configs"], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0 or not head.stdout.strip():
        return "unknown"
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def metric(result: dict, name: str) -> float:
    """A final metric of a result as a float (NaN for a diverged run)."""
    v = result["final"].get(name)
    return float("nan") if v is None else float(v)


class EpochLogs(keras.callbacks.Callback):
    """Collects the logs of each Keras epoch with the generator step it ended at."""

    def __init__(self):
        super().__init__()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        row = {"step": int(keras.ops.convert_to_numpy(self.model.g_steps))}
        for k, v in (logs or {}).items():
            try:
                row[k] = _finite_or_none(v)
            except (TypeError, ValueError):
                continue  # vector logs (multi-worker) are not kept
        self.rows.append(row)
