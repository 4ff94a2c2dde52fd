#!/usr/bin/env python
"""Per-iteration time of each regularizer relative to ``none``, measured side by side.

One iteration = one ``GAN.train_step`` (``n_dis`` D steps and one G step) run
through the model's own compiled train function (the one ``fit`` calls, with
``steps_per_execution=1``), built by :func:`dat_tf.train.loop.build_gan` from a
:class:`dat_tf.train.config.TrainConfig`: graph mode (``tf.function``) by default,
XLA with ``xla=True``, replicated with ``strategy="mirrored"``.  Diagnostics
(gradient-norm logging) are off so that only the regularizer's own cost
differs.  All configurations of a comparison are built first, then timed in
interleaved rounds (A B C A B C ...), so that machine-load drift hits every
one alike; the reported time is the median over rounds and ratios are taken
within the same run.

    python benchmarks/step_time.py                       # writes benchmarks/step_time.md
    python benchmarks/step_time.py --nets=mlp --rounds=3 --out=-   # quick, to stdout

Library use (``benchmarks/run_all.py``): :func:`gan_config`, :func:`make_runner`,
:func:`interleaved`, :func:`measure`.
"""

from __future__ import annotations

import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dat_tf.train.config import TrainConfig  # noqa: E402
from dat_tf.train.loop import build_gan, data_shape  # noqa: E402

REGULARIZERS = ["none", "gp", "zero_gp", "asgan", "dat", "datt"]

# name: TrainConfig fields of the benchmarked setting (nets at their default widths).
NETS = {
    # 2D toy: 4x64 MLPs, batch 256.
    "mlp": dict(dataset="mixture_balanced", net="mlp", latent_dim=2, batch_size=256, n_dis=1, loss="ns"),
    # DCGAN-32 (width 64, BatchNorm D), 32x32x3, batch 64, n_dis 1, non-saturating loss.
    "dcgan32": dict(dataset="cifar10", net="dcgan", latent_dim=100, batch_size=64, n_dis=1, loss="ns"),
    # mimicry's SNGAN-32 (ngf 256, ndf 128), batch 64, n_dis 5, hinge loss.
    "sngan32": dict(dataset="cifar10", net="sngan", latent_dim=128, batch_size=64, n_dis=5, loss="hinge"),
}
DEFAULT_STEPS = {"mlp": 200, "dcgan32": 5, "sngan32": 1}


def gan_config(net: str, regularizer: str, **overrides) -> TrainConfig:
    """The benchmark's :class:`TrainConfig` for ``net`` (a key of :data:`NETS`) and ``regularizer``."""
    fields = dict(NETS[net], regularizer=regularizer, log_gradient_norms=False, steps_per_execution=1, verbose=0,
                  seed=0)
    fields.update(overrides)
    return TrainConfig(**fields).validate()


class Runner:
    """A built and warmed-up GAN; ``runner(n)`` runs ``n`` train steps and returns the last ``d_loss``.

    Attributes: ``cfg``, ``gan``, ``build_s`` (building and compiling the
    model), ``warmup_s`` (the first steps: tracing, and XLA compilation).
    """

    def __init__(self, cfg: TrainConfig, strategy=None, warmup: int = 2):
        self.cfg = cfg
        t = time.perf_counter()
        self.gan = build_gan(cfg, strategy) if strategy is not None else build_gan(cfg)
        self.build_s = time.perf_counter() - t
        shape = data_shape(cfg)
        x = np.random.default_rng(0).uniform(-1, 1, (cfg.n_dis * cfg.batch_size, *shape)).astype("float32")
        dataset = tf.data.Dataset.from_tensors(x).repeat()  # one global batch of n_dis * batch_size, forever
        self._iterator = iter(self.gan.distribute_strategy.experimental_distribute_dataset(dataset))
        self.gan.make_train_function()
        self._step = self.gan.train_function
        t = time.perf_counter()
        self(warmup)
        self.warmup_s = time.perf_counter() - t

    @property
    def replicas(self) -> int:
        return int(self.gan.distribute_strategy.num_replicas_in_sync)

    def __call__(self, n: int) -> float:
        for _ in range(n):
            out = self._step(self._iterator)
        return float(out["d_loss"])  # forces completion


def make_runner(cfg: TrainConfig, strategy=None, warmup: int = 2) -> Runner:
    return Runner(cfg, strategy, warmup)


def interleaved(runners: dict, rounds: int, steps: int, untimed_rounds: int = 1) -> dict:
    """Seconds per step of each runner in each round: ``{key: [s_round1, s_round2, ...]}``.

    Each round runs every runner ``steps`` times, one runner after the other.
    ``untimed_rounds`` rounds of one step each run first: building a model
    (``keras.utils.set_random_seed``, i.e. ``tf.random.set_seed``) clears
    TensorFlow's kernel caches, so every model built before the last one pays
    its function instantiation (Grappler, XLA) again on its next step.
    """
    for _ in range(untimed_rounds):
        for run in runners.values():
            run(1)
    times = {k: [] for k in runners}
    for _ in range(rounds):
        for k, run in runners.items():
            t = time.perf_counter()
            run(steps)
            times[k].append((time.perf_counter() - t) / steps)
    return times


def medians(times: dict) -> dict:
    return {k: float(np.median(v)) for k, v in times.items()}


def measure(net, regs, rounds, steps, **overrides):
    """Median seconds per step of each regularizer in ``regs`` on ``net``, timed side by side."""
    runners = {r: make_runner(gan_config(net, r, **overrides)) for r in regs}
    return medians(interleaved(runners, rounds, steps))


def main(argv):
    del argv
    from absl import flags

    FLAGS = flags.FLAGS
    lines = [
        "# Step time per regularizer (ratio to `none`, measured side by side in one run)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.processor() or 'cpu'}; "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; graph mode (tf.function), no XLA; "
        f"median of {FLAGS.rounds} interleaved rounds. One step = n_dis D updates + one G update.",
        "",
        "Regenerate: `python benchmarks/step_time.py` (all tables: `python benchmarks/run_all.py`, see README.md)",
        "",
        "| net | batch | n_dis | " + " | ".join(FLAGS.regularizers) + " |",
        "|---|---:|---:|" + "---:|" * len(FLAGS.regularizers),
    ]
    for net in FLAGS.nets:
        steps = FLAGS.steps or DEFAULT_STEPS[net]
        t = measure(net, FLAGS.regularizers, FLAGS.rounds, steps)
        cells = [f"{t[r] * 1e3:.2f} ms ({t[r] / t['none']:.2f}x)" if "none" in t else f"{t[r] * 1e3:.2f} ms" for r in FLAGS.regularizers]
        lines.append(f"| {net} | {NETS[net]['batch_size']} | {NETS[net]['n_dis']} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    if FLAGS.out != "-":
        with open(FLAGS.out, "w") as f:
            f.write(report)
    print(report)


def _define_flags():
    from absl import flags

    flags.DEFINE_list(
        "nets", ["mlp", "dcgan32", "sngan32"],
        "Nets: mlp (2D toy, batch 256), dcgan32 (32x32x3, batch 64), sngan32 (mimicry SNGAN-32, batch 64, n_dis 5).",
    )
    flags.DEFINE_list("regularizers", REGULARIZERS, "Regularizers to time.")
    flags.DEFINE_integer("rounds", 7, "Interleaved timing rounds.")
    flags.DEFINE_integer("steps", 0, "Steps per round (0: 200 for mlp, 5 for dcgan32, 1 for sngan32).")
    flags.DEFINE_string("out", "benchmarks/step_time.md", "Markdown report path, or - for stdout only.")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main)
