"""Reruns the paper's claims at CPU scale and writes results.md (see dat_study/study.py): ``dat-results``, or
``python bin/results.py`` in a checkout.

    python bin/results.py                          # everything, from scratch (the pilot first); hours on 2 CPU cores
    python bin/results.py --quick                  # smoke run of every section, < 10 min, own output folder
    python bin/results.py --sections=table3,lipschitz
    python bin/results.py --render                 # only rewrite the page from the stored section files
    python bin/results.py --out_dir=docs ...       # the committed docs/results.md and README's results table

Outputs go under runs/results/docs (git-ignored) unless --out_dir says otherwise.
A study interrupted midway resumes: finished runs keep their result.json under runs/results.

Running sections needs the project's checkout as the working folder: the runs read ``configs/*.flags`` by
relative path and record the checkout's git commit. Outside one, ``--render`` (and ``--help``) still work; asking
for runs is a usage error saying so.
"""

import os

from dat_tf.quiet import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import app, flags  # noqa: E402

from dat_study import common, study  # noqa: E402
from dat_tf.commands import program, start  # noqa: E402

SECTIONS = tuple(study.SECTIONS)

flags.DEFINE_list("sections", list(SECTIONS), f"Sections to run, in order; some of {list(SECTIONS)}.")
flags.DEFINE_bool("quick", False, f"Tiny sizes in a separate folder ({common.QUICK_OUT_DIR}): checks that all runs.")
flags.DEFINE_bool("render", False, "Do not run anything; rewrite results.md from the stored section files.")
flags.DEFINE_integer("workers", 2, "Training processes at once (one CPU thread each).")
flags.DEFINE_string("out_dir", None, f"Folder of results.md (default {common.DEFAULT_OUT_DIR}, or "
                    f"{common.QUICK_OUT_DIR} with --quick); docs rewrites the committed page.")
flags.DEFINE_list("figure3_stds", ["default", "0.1"], "Mixture stds of the figure3 section: 'default' (the "
                  "flagfiles' sqrt(0.1), the paper's 'variance 0.1' read as a variance) and/or numbers (0.1: read as "
                  "a std; the epsilon sweep runs at 0.1).")
flags.DEFINE_list("table3_columns", [], "Table 3's main-arm columns to run (default: all eleven); e.g. "
                  "none,dat,zero_gp,gp for the paper's central cells first. A later run with all of them reuses the "
                  "finished runs.")
flags.DEFINE_bool("table3_other_arm", True, "Also run Table 3's labelled arm (the other reading of LSGAN and WGAN).")
flags.DEFINE_list("figures45_stems", [], "Figures 4/5 settings to run (default: all, ours included): flagfile stems "
                  "such as dcgan_cifar10_lr0.0002_b0.5_it1, or 'ours'. A later run with all of them reuses the "
                  "finished runs.")
flags.DEFINE_list("pilot_sections", [], "The pilot's families to run, by the section they serve (default: all): "
                  "some of table3, figures45, figure1, figure3. A later pass keeps the stored pilot's other families.")
flags.DEFINE_bool("figures45_reference", True, "Also run DAT's reference variant in the clipped WGAN settings.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    bad = [s for s in FLAGS.sections if s not in SECTIONS]
    if bad:
        raise app.UsageError(f"--sections={','.join(FLAGS.sections)}: {bad} not allowed; expected some of {list(SECTIONS)}")
    if FLAGS.workers < 1:
        raise app.UsageError(f"--workers={FLAGS.workers} is not allowed; expected an integer >= 1")
    try:
        stds = tuple(None if s == "default" else float(s) for s in FLAGS.figure3_stds)
    except ValueError:
        raise app.UsageError(f"--figure3_stds={','.join(FLAGS.figure3_stds)} is not allowed; expected 'default' "
                             "and/or positive numbers") from None
    if not stds or any(s is not None and not s > 0 for s in stds):
        raise app.UsageError(f"--figure3_stds={','.join(FLAGS.figure3_stds)} is not allowed; expected 'default' "
                             "and/or positive numbers")
    from dat_study.render import render_page

    from dat_study.table3 import MAIN_COLUMNS

    bad = [c for c in FLAGS.table3_columns if c not in MAIN_COLUMNS]
    if bad:
        raise app.UsageError(f"--table3_columns={','.join(FLAGS.table3_columns)}: {bad} not allowed; expected some of "
                             f"{list(MAIN_COLUMNS)}")
    from dat_study.paper import FIGURES45_SETTINGS

    stems = [stem for _, stem in FIGURES45_SETTINGS] + ["ours"]
    bad = [s for s in FLAGS.figures45_stems if s not in stems]
    if bad:
        raise app.UsageError(f"--figures45_stems={','.join(FLAGS.figures45_stems)}: {bad} not allowed; expected some "
                             f"of {stems}")
    from dat_study.pilot import PILOT_SECTIONS

    bad = [s for s in FLAGS.pilot_sections if s not in PILOT_SECTIONS]
    if bad:
        raise app.UsageError(f"--pilot_sections={','.join(FLAGS.pilot_sections)}: {bad} not allowed; expected some "
                             f"of {list(PILOT_SECTIONS)}")
    kw = dict(workers=FLAGS.workers, figure3_stds=stds, pilot_sections=tuple(FLAGS.pilot_sections),
              table3_columns=tuple(FLAGS.table3_columns), table3_other_arm=FLAGS.table3_other_arm,
              figures45_stems=tuple(FLAGS.figures45_stems))
    if not FLAGS.figures45_reference:
        kw["figures45_reference_seeds"] = ()
    if FLAGS.out_dir:
        kw["out_dir"] = FLAGS.out_dir
        if os.path.normpath(FLAGS.out_dir) == "docs" and not FLAGS.quick:
            kw["readme"] = "README.md"  # the committed page: README's results table comes from it
    opts = study.quick_options(**kw) if FLAGS.quick else study.StudyOptions(**kw)
    if not FLAGS.render:
        if not os.path.isdir(opts.configs_dir):
            raise app.UsageError(f"running sections reads the flagfiles from {opts.configs_dir}/ in the working folder "
                                 f"({os.getcwd()} has none): run it from the root of the project's checkout, or pass "
                                 "--render to only rewrite the page from the stored section files.")
        study.run_sections(opts, FLAGS.sections)
    print(f"wrote {render_page(opts)}")


def run():
    """The ``dat-results`` entry point (``bin/results.py`` calls it too)."""
    start(main, __name__, program("bin/results.py", "dat-results"))
