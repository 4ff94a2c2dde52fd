#!/usr/bin/env python
"""Reruns the paper's Figure 3 (baseline vs DAT on the 2D Gaussian mixtures).

    python bin/figure3.py                      # 5 seeds, 2k/3k/10k steps -> runs/figure3/figure3.{png,md,json}
    python bin/figure3.py --seeds=0 --checkpoints=200,300,1000   # a quick look
    python bin/figure3.py --out_dir=docs       # regenerate the committed docs/figure3.{png,md,json}
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_tf.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import app, flags  # noqa: E402

flags.DEFINE_string("out_dir", os.path.join("runs", "figure3"), "Where figure3.png, figure3.md and figure3.json go "
                    "(runs/ is git-ignored; docs rewrites the committed figure).")
flags.DEFINE_string("configs_dir", "configs", "Folder holding toy_{balanced,imbalanced}[_dat].flags.")
flags.DEFINE_list("seeds", ["0", "1", "2", "3", "4"], "Seeds, one run each.")
flags.DEFINE_list("checkpoints", ["2000", "3000", "10000"], "Generator steps at which to sample.")
flags.DEFINE_list("methods", ["none", "dat"], "Methods: none, dat (paper variant), dat_reference.")
flags.DEFINE_float("mixture_std", None, "Override the flagfiles' std of each Gaussian.")
flags.DEFINE_integer("workers", 2, "Runs in parallel (one process and one CPU thread each).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from dat_tf.experiments.figure3 import Figure3Options, run

    try:
        opts = Figure3Options(
            out_dir=FLAGS.out_dir,
            configs_dir=FLAGS.configs_dir,
            seeds=tuple(int(s) for s in FLAGS.seeds),
            checkpoints=tuple(int(s) for s in FLAGS.checkpoints),
            methods=tuple(FLAGS.methods),
            mixture_std=FLAGS.mixture_std,
            workers=FLAGS.workers,
        )
    except ValueError as e:
        raise app.UsageError(f"--seeds and --checkpoints take integers: {e}") from None
    if FLAGS.workers < 1:
        raise app.UsageError(f"--workers={FLAGS.workers} is not allowed; expected an integer >= 1")
    table, seconds = run(opts)
    with open(os.path.join(opts.out_dir, "figure3.md")) as f:
        print(f.read())
    written = ", ".join(os.path.join(opts.out_dir, f"figure3.{ext}") for ext in ("png", "md", "json"))
    print(f"wrote {written} in {seconds / 60:.1f} min")


if __name__ == "__main__":
    app.run(main)
