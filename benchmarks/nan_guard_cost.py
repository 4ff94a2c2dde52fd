#!/usr/bin/env python
"""Per-step cost of the NaN guard (``--on_nan``), measured side by side through ``fit``.

For each net, two copies of the same compiled GAN (built by
:func:`dat_tf.train.loop.build_gan`, graph mode, gradient-norm logging off)
train through ``GAN.fit`` on one fixed synthetic batch, one with
:class:`dat_tf.train.nan_guard.NaNGuard` (policy ``stop``, as the CLI
default) and one without, in interleaved rounds (A B, B A, ...) so that
machine-load drift hits both alike.  A round is one ``fit`` of ``steps``
generator steps, one Keras epoch (so one snapshot of the state, as every
``log_every`` steps in a run); the time per step is taken from the first
callback's ``on_train_begin`` after the guard's to ``on_train_end`` (the
guard's one-off set-up at the start of each ``fit``, tracing its snapshot
function, is reported apart as "set-up").  Reported: the median seconds per
step over rounds, their ratio and the range of the per-round ratios, for
``steps_per_execution`` 50 (the CLI default: the losses are checked once per
execution) and 1 (once per step).  On a shared machine a ratio within the
range of the per-round ratios around 1 is noise; the per-check cost at
``steps_per_execution=1`` is the clearer signal, and the cost at 50 is that
over 50 steps.

    python benchmarks/nan_guard_cost.py                        # mlp and dcgan32, to stdout
    python benchmarks/nan_guard_cost.py --nets=mlp --rounds=3 --spe=50
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from dat_tf.train.checkpoints import RunCheckpointer  # noqa: E402
from dat_tf.train.config import TrainConfig  # noqa: E402
from dat_tf.train.loop import build_gan, data_shape  # noqa: E402
from dat_tf.train.nan_guard import NaNGuard  # noqa: E402

# The settings of benchmarks/step_time.py (nets at their default widths).
NETS = {
    "mlp": dict(dataset="mixture_balanced", net="mlp", latent_dim=2, batch_size=256, n_dis=1, loss="ns"),
    "dcgan32": dict(dataset="cifar10", net="dcgan", latent_dim=100, batch_size=64, n_dis=1, loss="ns"),
    "sngan32": dict(dataset="cifar10", net="sngan", latent_dim=128, batch_size=64, n_dis=5, loss="hinge"),
}
DEFAULT_STEPS = {"mlp": 500, "dcgan32": 20, "sngan32": 10}  # per round, rounded up to a multiple of spe
DEFAULT_ROUNDS = {"mlp": 11, "dcgan32": 5, "sngan32": 3}


class _Clock(keras.callbacks.Callback):
    """Times ``fit`` from its ``on_train_begin`` to ``on_train_end`` (no batch hooks: it adds no host sync)."""

    def on_train_begin(self, logs=None):
        self.begin = time.perf_counter()

    def on_train_end(self, logs=None):
        self.end = time.perf_counter()


class _TimedGuard(NaNGuard):
    """The guard, adding up the time spent in its per-step and per-epoch hooks (``spent``, seconds)."""

    spent = 0.0

    def _timed(self, hook, *args):
        t = time.perf_counter()
        try:
            return hook(*args)
        finally:
            self.spent += time.perf_counter() - t

    def on_epoch_begin(self, epoch, logs=None):
        self._timed(super().on_epoch_begin, epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._timed(super().on_train_batch_end, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._timed(super().on_epoch_end, epoch, logs)


class Variant:
    """One compiled GAN and its callbacks; ``run(steps)`` returns seconds per step, and for the guarded one
    the guard's set-up seconds and its seconds per step inside its hooks."""

    def __init__(self, cfg: TrainConfig, guarded: bool, workdir: str):
        self.gan = build_gan(cfg)
        shape = data_shape(cfg)
        x = np.random.default_rng(0).uniform(-1, 1, (cfg.n_dis * cfg.batch_size, *shape)).astype("float32")
        self.data = tf.data.Dataset.from_tensors(x).repeat()  # one batch of n_dis * batch_size, forever
        checkpointer = RunCheckpointer(self.gan, os.path.join(workdir, "checkpoints"))
        self.guard = _TimedGuard(checkpointer, workdir) if guarded else None

    def run(self, steps: int):
        before, after = _Clock(), _Clock()
        callbacks = [before, self.guard, after] if self.guard else [before, after]
        if self.guard:
            self.guard.spent = 0.0
        self.gan.fit(self.data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
        in_hooks = self.guard.spent / steps if self.guard else 0.0
        return (after.end - after.begin) / steps, after.begin - before.begin, in_hooks


def measure(net: str, spe: int, rounds: int, steps: int) -> dict:
    """Median seconds per step without and with the guard, timed in interleaved rounds."""
    if steps % spe:
        raise ValueError(f"steps ({steps}) must be a multiple of steps_per_execution ({spe}).")
    cfg = TrainConfig(**NETS[net], steps_per_execution=spe, log_gradient_norms=False, verbose=0, seed=0).validate()
    with tempfile.TemporaryDirectory() as tmp:
        variants = {"without": Variant(cfg, False, tmp), "with": Variant(cfg, True, tmp)}
        for v in variants.values():  # an untimed round: traces, and warms the caches (building clears them)
            v.run(steps)
        times = {k: [] for k in variants}
        setup, hooks = [], []
        for r in range(rounds):
            order = ["without", "with"] if r % 2 == 0 else ["with", "without"]
            for k in order:
                per_step, guard_setup, in_hooks = variants[k].run(steps)
                times[k].append(per_step)
                if k == "with":
                    setup.append(guard_setup)
                    hooks.append(in_hooks)
    base, guarded = float(np.median(times["without"])), float(np.median(times["with"]))
    paired = [w / wo for w, wo in zip(times["with"], times["without"])]
    return dict(net=net, spe=spe, steps=steps, rounds=rounds, without=base, with_=guarded, ratio=guarded / base,
                paired_min=min(paired), paired_max=max(paired), setup=float(np.median(setup)),
                hooks=float(np.median(hooks)))


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "uptime unavailable"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", default="mlp,dcgan32", help=f"Comma-separated, from {sorted(NETS)}.")
    parser.add_argument("--spe", default="50,1", help="Comma-separated steps_per_execution values.")
    parser.add_argument("--rounds", type=int, default=0,
                        help=f"Interleaved timing rounds (0: per net, {DEFAULT_ROUNDS}).")
    parser.add_argument("--steps", type=int, default=0,
                        help=f"Steps per round, rounded up to a multiple of spe (0: per net, {DEFAULT_STEPS}).")
    parser.add_argument("--out", default="-", help="Markdown report path, or - for stdout only.")
    args = parser.parse_args(argv)
    nets = [n for n in args.nets.split(",") if n]
    bad = [n for n in nets if n not in NETS]
    if bad:
        parser.error(f"unknown net(s) {bad}; allowed: {sorted(NETS)}")
    try:
        spes = [int(s) for s in args.spe.split(",") if s]
    except ValueError:
        parser.error(f"--spe must be comma-separated integers >= 1, got {args.spe!r}")
    if not spes or min(spes) < 1:
        parser.error(f"--spe must be comma-separated integers >= 1, got {args.spe!r}")
    if args.rounds < 0 or args.steps < 0:
        parser.error(f"--rounds and --steps must be >= 0, got {args.rounds} and {args.steps}")

    load_before = _uptime()
    start = time.time()
    rows = []
    for net in nets:
        for spe in spes:
            steps = -(-(args.steps or DEFAULT_STEPS[net]) // spe) * spe
            row = measure(net, spe, args.rounds or DEFAULT_ROUNDS[net], steps)
            rows.append(row)
            print(f"{net} spe={spe}: {row['without'] * 1e3:.3f} ms -> {row['with_'] * 1e3:.3f} ms per step "
                  f"({row['ratio']:.3f}x)", flush=True)
    lines = [
        "# NaN guard cost per step (`fit` with and without `NaNGuard`, side by side)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores; TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}; graph mode; medians over interleaved rounds; "
        f"{time.time() - start:.0f} s in all.",
        f"Load before: `{load_before}`; after: `{_uptime()}`.",
        "",
        "Regenerate: `python benchmarks/nan_guard_cost.py`",
        "",
        "| net | steps_per_execution | rounds x steps | without | with guard | ratio | per-round ratios "
        "| in the guard's hooks | guard set-up per fit |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['net']} | {r['spe']} | {r['rounds']} x {r['steps']} | {r['without'] * 1e3:.3f} ms "
            f"| {r['with_'] * 1e3:.3f} ms | {r['ratio']:.3f}x | {r['paired_min']:.3f}-{r['paired_max']:.3f} "
            f"| {r['hooks'] * 1e6:.1f} us/step ({r['hooks'] / r['without']:.2%}) | {r['setup'] * 1e3:.0f} ms |"
        )
    lines += [
        "",
        "Ratio: median time per step with the guard over without (both through `fit`, verbose=0). "
        "In the guard's hooks: the time spent inside the guard's own batch- and epoch-end code per step "
        "(one state snapshot per round, i.e. per Keras epoch), as a share of the step without it; it leaves out "
        "what the guard costs Keras around it (a callback with batch hooks makes Keras read the logs on the "
        "host after every execution), which the ratio includes, with the noise of a shared machine.",
    ]
    report = "\n".join(lines) + "\n"
    if args.out != "-":
        with open(args.out, "w") as f:
            f.write(report)
    print(report)


if __name__ == "__main__":
    main()
