"""FID/KID/IS of a *run*: real data per the run's config, in-training callback, run loading.

The metric computation itself lives in :mod:`dat_tf.metrics`; this module
connects it to runs of :func:`dat_tf.train.loop.train`:

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

from dat_tf.train.config import TrainConfig


def load_config(run_dir: str) -> TrainConfig:
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{run_dir!r} is not a run directory: it has no config.json.")
    with open(path) as f:
        return TrainConfig.from_dict(json.load(f))


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
    from dat_tf.train.checkpoints import RunCheckpointer
    from dat_tf.train.loop import build_gan

    step = steps[-1] if step is None else step
    gan = build_gan(cfg)
    ckpt = RunCheckpointer(gan, os.path.join(run_dir, "checkpoints"), keep=cfg.keep_checkpoints)
    ckpt.checkpoint.restore(os.path.join(run_dir, "checkpoints", f"ckpt-{step}")).assert_existing_objects_matched()
    return gan.generator, cfg, step


