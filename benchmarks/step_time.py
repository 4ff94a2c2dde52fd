#!/usr/bin/env python
"""Per-iteration time of each regularizer relative to ``none``, measured side by side.

One iteration = one ``GAN.train_step`` (``n_dis`` D steps and one G step),
compiled with ``tf.function`` (graph mode), diagnostics (gradient-norm logging)
off so that only the regularizer's own cost differs.  For each net all
regularizers are built first, then timed in interleaved rounds (A B C A B C
...), so that machine-load drift hits every method alike; the reported time is
the median over rounds and the ratio is to ``none`` in the same run.

    python benchmarks/step_time.py                       # writes benchmarks/step_time.md
    python benchmarks/step_time.py --nets=mlp --rounds=3 --out=-   # quick, to stdout
"""

import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from dat_tf import GAN, nets  # noqa: E402

flags.DEFINE_list(
    "nets", ["mlp", "dcgan32", "sngan32"],
    "Nets: mlp (2D toy, batch 256), dcgan32 (32x32x3, batch 64), sngan32 (mimicry SNGAN-32, batch 64, n_dis 5).",
)
flags.DEFINE_list("regularizers", ["none", "gp", "zero_gp", "asgan", "dat", "datt"], "Regularizers to time.")
flags.DEFINE_integer("rounds", 7, "Interleaved timing rounds.")
flags.DEFINE_integer("steps", 0, "Steps per round (0: 200 for mlp, 5 for dcgan32, 1 for sngan32).")
flags.DEFINE_string("out", "benchmarks/step_time.md", "Markdown report path, or - for stdout only.")
FLAGS = flags.FLAGS

SETTINGS = {
    # name: (builder, data shape, batch, latent, default steps, loss, n_dis)
    "mlp": (lambda: (nets.mlp_generator(2), nets.mlp_discriminator()), (2,), 256, 2, 200, "ns", 1),
    "dcgan32": (
        lambda: (nets.dcgan_generator(100, 32, 3, 64), nets.dcgan_discriminator(32, 3, 64)),
        (32, 32, 3), 64, 100, 5, "ns", 1,
    ),
    "sngan32": (
        lambda: (nets.sngan_generator(32, latent_dim=128), nets.sngan_discriminator(32)),
        (32, 32, 3), 64, 128, 1, "hinge", 5,
    ),
}


def _make_step(net, reg):
    build, shape, batch, latent, _, loss, n_dis = SETTINGS[net]
    keras.utils.set_random_seed(0)
    g, d = build()
    gan = GAN(g, d, latent_dim=latent, loss=loss, regularizer=reg, n_dis=n_dis, log_gradient_norms=False)
    gan.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5))
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (n_dis * batch, *shape)).astype("float32"))
    step = tf.function(gan.train_step)

    def run(n):
        for _ in range(n):
            out = step(x)
        return float(out["d_loss"])  # forces completion

    run(2)  # trace and warm up
    return run


def measure(net, regs, rounds, steps):
    runs = {r: _make_step(net, r) for r in regs}
    times = {r: [] for r in regs}
    for _ in range(rounds):
        for r in regs:
            t = time.perf_counter()
            runs[r](steps)
            times[r].append((time.perf_counter() - t) / steps)
    return {r: float(np.median(v)) for r, v in times.items()}


def main(argv):
    del argv
    lines = [
        "# Step time per regularizer (ratio to `none`, measured side by side in one run)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.processor() or 'cpu'}; "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}; graph mode (tf.function), no XLA; "
        f"median of {FLAGS.rounds} interleaved rounds. One step = n_dis D updates + one G update.",
        "",
        "Regenerate: `python benchmarks/step_time.py`",
        "",
        "| net | batch | n_dis | " + " | ".join(FLAGS.regularizers) + " |",
        "|---|---:|---:|" + "---:|" * len(FLAGS.regularizers),
    ]
    for net in FLAGS.nets:
        steps = FLAGS.steps or SETTINGS[net][4]
        t = measure(net, FLAGS.regularizers, FLAGS.rounds, steps)
        cells = [f"{t[r] * 1e3:.2f} ms ({t[r] / t['none']:.2f}x)" if "none" in t else f"{t[r] * 1e3:.2f} ms" for r in FLAGS.regularizers]
        lines.append(f"| {net} | {SETTINGS[net][2]} | {SETTINGS[net][6]} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    if FLAGS.out != "-":
        with open(FLAGS.out, "w") as f:
            f.write(report)
    print(report)


if __name__ == "__main__":
    app.run(main)
