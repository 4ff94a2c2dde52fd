#!/usr/bin/env python
"""Per-iteration time of each regularizer relative to ``none``, measured side by side.

The measuring code is :mod:`benchmarks.harness` (one iteration = one
``GAN.train_step`` through the model's compiled train function; all
configurations built first, then timed in interleaved rounds A B C A B C ...;
the median over rounds, ratios within the same run).  This script prints one
table of it; ``benchmarks/run_all.py`` writes all of the benchmark tables.

    python benchmarks/step_time.py                       # writes benchmarks/step_time.md
    python benchmarks/step_time.py --nets=mlp --rounds=3 --out=-   # quick, to stdout
"""

from __future__ import annotations

import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.harness import NETS, REGULARIZERS, STEPS, measure  # noqa: E402


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
        steps = FLAGS.steps or STEPS[net]
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
    flags.DEFINE_list("regularizers", list(REGULARIZERS), "Regularizers to time.")
    flags.DEFINE_integer("rounds", 7, "Interleaved timing rounds.")
    flags.DEFINE_integer("steps", 0, "Steps per round (0: 200 for mlp, 5 for dcgan32, 1 for sngan32).")
    flags.DEFINE_string("out", "benchmarks/step_time.md", "Markdown report path, or - for stdout only.")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(main)
