#!/usr/bin/env python
"""Reruns the paper's claims at CPU scale and writes docs/results.md (see dat_tf/experiments/study.py).

    python bin/results.py                          # everything, from scratch: under 3 h on 2 CPU cores
    python bin/results.py --quick                  # smoke run of every section, < 10 min, own output folder
    python bin/results.py --sections=table3,lipschitz
    python bin/results.py --render                 # only rewrite the page from the stored section files

A study interrupted midway resumes: finished runs keep their result.json under --runs_dir.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import app, flags  # noqa: E402

SECTIONS = ("figure3", "figure1", "table3", "figures45", "lipschitz", "cost")  # dat_tf.experiments.study.SECTIONS

flags.DEFINE_list("sections", list(SECTIONS), f"Sections to run, in order; some of {list(SECTIONS)}.")
flags.DEFINE_bool("quick", False, "Tiny sizes in a separate folder (runs/results_quick): checks that all runs.")
flags.DEFINE_bool("render", False, "Do not run anything; rewrite results.md from the stored section files.")
flags.DEFINE_integer("workers", 2, "Training processes at once (one CPU thread each).")
flags.DEFINE_string("out_dir", None, "Folder of results.md (default docs, or runs/results_quick/docs with --quick).")
flags.DEFINE_bool("figure1_reuse", False, "Summarize docs/attack/results.jsonl as it is instead of rerunning "
                  "docs/attack/reproduce.sh.")
flags.DEFINE_list("figure3_stds", ["default"], "Mixture stds of the figure3 section: 'default' (the flagfiles' "
                  "sqrt(0.1), the paper's 'variance 0.1') and/or numbers, e.g. default,0.1 (each about 11 min).")
flags.DEFINE_bool("cost_reuse", False, "Read benchmarks/results.json as it is instead of rerunning the step table.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    bad = [s for s in FLAGS.sections if s not in SECTIONS]
    if bad:
        raise app.UsageError(f"--sections={','.join(FLAGS.sections)}: {bad} not allowed; expected some of {list(SECTIONS)}")
    if FLAGS.workers < 1:
        raise app.UsageError(f"--workers={FLAGS.workers} is not allowed; expected an integer >= 1")
    from dat_tf.experiments import study

    try:
        stds = tuple(None if s == "default" else float(s) for s in FLAGS.figure3_stds)
    except ValueError:
        raise app.UsageError(f"--figure3_stds={','.join(FLAGS.figure3_stds)} is not allowed; expected 'default' "
                             "and/or positive numbers") from None
    if not stds or any(s is not None and not s > 0 for s in stds):
        raise app.UsageError(f"--figure3_stds={','.join(FLAGS.figure3_stds)} is not allowed; expected 'default' "
                             "and/or positive numbers")
    kw = dict(workers=FLAGS.workers, figure1_reuse=FLAGS.figure1_reuse, cost_reuse=FLAGS.cost_reuse,
              figure3_stds=stds)
    if FLAGS.out_dir:
        kw["out_dir"] = FLAGS.out_dir
    opts = study.quick_options(**kw) if FLAGS.quick else study.StudyOptions(**kw)
    path = study.render(opts) if FLAGS.render else study.run_sections(opts, FLAGS.sections)
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
