"""Reruns the paper's Figure 3 (baseline vs DAT on the 2D Gaussian mixtures): ``dat-figure3``, or
``python bin/figure3.py`` in a checkout.

    python bin/figure3.py                      # both readings, 3 seeds, 2k/3k/10k -> runs/figure3/figure3.{png,md,json}
    python bin/figure3.py --seeds=0 --checkpoints=200,300,1000   # a quick look
    python bin/figure3.py --mixture_stds=default --seeds=0,1,2,3,4   # only the literal reading (std 0.316), 5 seeds

The paper's "variance 0.1" with means one apart is read two ways: std 0.1 (separated modes, what the paper's
figure shows) and std sqrt(0.1) = 0.316 (the text taken literally, the flagfiles' value; neighbouring modes
overlap). Both run by default, the separated one first; figure3.png shows them side by side.

The toy flagfiles are read from ``--configs_dir``: by default ``configs/`` in the working folder (a checkout's
root), else the ones installed with dat_tf, so the command also runs outside a checkout.
"""

import os

from dat_tf.quiet import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import app, flags  # noqa: E402

from dat_tf import flagfiles  # noqa: E402
from dat_tf.commands import program, start  # noqa: E402

flags.DEFINE_string("out_dir", os.path.join("runs", "figure3"), "Where figure3.png, figure3.md and figure3.json go "
                    "(and one folder per reading; runs/ is git-ignored).")
flags.DEFINE_string("configs_dir", None, "Folder holding toy_{balanced,imbalanced}[_dat].flags (default: configs/ "
                    "in the working folder when there is one, else the flagfiles installed with dat_tf).")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds, one run each per reading, mixture and method.")
flags.DEFINE_list("checkpoints", ["2000", "3000", "10000"], "Generator steps at which to sample.")
flags.DEFINE_list("methods", ["none", "dat"], "Methods: none, dat (paper variant), dat_reference.")
flags.DEFINE_list("mixture_stds", ["0.1", "default"], "Readings of the paper's 'variance 0.1', drawn left to right: "
                  "numbers (the std of each Gaussian) and/or 'default' (the flagfiles' sqrt(0.1)).")
flags.DEFINE_integer("workers", 2, "Runs in parallel (one process and one CPU thread each).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from dat_study.figure3 import Figure3Options, run as run_figure3  # this module's run() is the entry point

    try:
        opts = Figure3Options(
            out_dir=FLAGS.out_dir,
            configs_dir=FLAGS.configs_dir or ("configs" if os.path.isdir("configs") else flagfiles.folder()),
            seeds=tuple(int(s) for s in FLAGS.seeds),
            checkpoints=tuple(int(s) for s in FLAGS.checkpoints),
            methods=tuple(FLAGS.methods),
            workers=FLAGS.workers,
        )
        stds = tuple(None if s == "default" else float(s) for s in FLAGS.mixture_stds)
    except ValueError as e:
        raise app.UsageError(f"--seeds and --checkpoints take integers, --mixture_stds numbers or 'default': {e}") from None
    if not stds or any(s is not None and not s > 0 for s in stds):
        raise app.UsageError(f"--mixture_stds={','.join(FLAGS.mixture_stds)} is not allowed; expected positive numbers "
                             "and/or 'default'")
    if FLAGS.workers < 1:
        raise app.UsageError(f"--workers={FLAGS.workers} is not allowed; expected an integer >= 1")
    runs = len(stds) * 2 * len(opts.methods) * len(opts.seeds)
    print(f"figure3: {runs} runs of {max(opts.checkpoints)} steps on {opts.workers} worker processes; a line per "
          "finished run", flush=True)
    out = run_figure3(opts, stds=stds, log=lambda line: print(line, flush=True))
    with open(os.path.join(opts.out_dir, "figure3.md")) as f:
        print(f.read())
    written = ", ".join(os.path.join(opts.out_dir, f"figure3.{ext}") for ext in ("png", "md", "json"))
    print(f"wrote {written} in {out[0][2] / 60:.1f} min")


def run():
    """The ``dat-figure3`` entry point (``bin/figure3.py`` calls it too)."""
    start(main, __name__, program("bin/figure3.py", "dat-figure3"))
