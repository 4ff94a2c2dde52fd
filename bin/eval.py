#!/usr/bin/env python
"""FID / KID (train and test split) and IS of a run or a saved generator; one JSON line per metric.

    python bin/eval.py --run_dir=runs/x [--step=5000] --classifier=digits --num_samples=10000 --seeds=3
    python bin/eval.py --generator=runs/x/generator.keras --dataset=digits --classifier=digits

With ``--run_dir`` the generator is the run's newest checkpoint (or ``--step``'s; ``generator.keras``
for a run without checkpoints) and the real images are the run's dataset (its train and test splits
as in the paper's A.2).

Prints e.g. ``{"metric": "fid_train", "mean": ..., "std": ..., "values": [...], ...}`` for
fid_train, kid_train, fid_test, kid_test and is (``std`` over the evaluation seeds 0..seeds-1).
The lines are strict JSON: a value that is not finite (KID's ``block_std`` with one block) is ``null``.
Works offline with ``--classifier=digits`` or a Keras classifier file; ``--classifier=inception``
needs the TF-Hub module cached ($TFHUB_CACHE_DIR) or a local copy (``--inception_path``).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_tf.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import app, flags  # noqa: E402

DATASETS = ("digits",)

flags.DEFINE_string("run_dir", None, "A bin/train.py run directory (config.json + checkpoints/).")
flags.DEFINE_integer("step", None, "With --run_dir: the checkpoint's generator step (default: the newest).")
flags.DEFINE_string("generator", None, "Saved Keras generator z -> images (.keras / .h5); latent size from its input.")
flags.DEFINE_string("dataset", "digits", f"Real dataset, one of {list(DATASETS)}.")
flags.DEFINE_string(
    "classifier", "digits", "'digits' (offline), 'inception' (TF-Hub / --inception_path) or a .keras/.h5 file."
)
flags.DEFINE_string("feature_layer", None, "Feature layer name, for a Keras classifier file.")
flags.DEFINE_string("logits_layer", None, "Logits layer name, for a Keras classifier file.")
flags.DEFINE_string("inception_path", None, "Local SavedModel folder (or TF-Hub handle) of the FID Inception net.")
flags.DEFINE_integer("num_samples", 10000, "Generated images per evaluation seed.")
flags.DEFINE_integer("seeds", 3, "Number of evaluation seeds (0 .. seeds-1); mean and std over them.")
flags.DEFINE_integer("num_real_samples", None, "Real images per split (default: the whole split).")
flags.DEFINE_list("splits", ["train", "test"], "Real splits to compare with.")
flags.DEFINE_integer("batch_size", 500, "Images per classifier / generator batch.")
flags.DEFINE_integer("is_splits", 10, "Splits for the Inception score.")
flags.DEFINE_integer("kid_max_block_size", 1024, "TF-GAN KID block size.")
flags.DEFINE_string("cache_dir", None, "Real-statistics cache (default $DAT_TF_METRICS_CACHE or ~/.cache/dat_tf/metrics).")
flags.DEFINE_string("output", None, "Also write the JSON lines to this file.")
FLAGS = flags.FLAGS


def _validate():
    """Checks the flags; returns the :class:`RunDir` of ``--run_dir`` (or ``None``)."""
    if bool(FLAGS.generator) == bool(FLAGS.run_dir):
        raise app.UsageError("give exactly one of --run_dir (a training run) and --generator (a saved generator).")
    if FLAGS.step is not None and not FLAGS.run_dir:
        raise app.UsageError("--step only applies with --run_dir.")
    if FLAGS.step is not None and FLAGS.step < 0:
        raise app.UsageError(f"--step must be >= 0, got {FLAGS.step}.")
    if FLAGS.generator and not os.path.isfile(FLAGS.generator):
        raise app.UsageError(f"--generator file not found: {FLAGS.generator!r}.")
    if FLAGS.generator and FLAGS.dataset not in DATASETS:
        raise app.UsageError(f"--dataset must be one of {list(DATASETS)}, got {FLAGS.dataset!r}.")
    clf = FLAGS.classifier
    if clf not in ("digits", "inception"):
        if not clf.endswith((".keras", ".h5")):
            raise app.UsageError(f"--classifier must be 'digits', 'inception' or a .keras/.h5 file, got {clf!r}.")
        if not os.path.isfile(clf):
            raise app.UsageError(f"--classifier file not found: {clf!r}.")
        if not FLAGS.feature_layer or not FLAGS.logits_layer:
            raise app.UsageError("a Keras classifier file needs --feature_layer and --logits_layer.")
    elif FLAGS.feature_layer or FLAGS.logits_layer:
        raise app.UsageError(f"--feature_layer/--logits_layer only apply to a classifier file, not {clf!r}.")
    if FLAGS.inception_path and clf != "inception":
        raise app.UsageError("--inception_path only applies with --classifier=inception.")
    minimum = {"num_samples": 2, "seeds": 1, "batch_size": 1, "is_splits": 1, "kid_max_block_size": 2}
    for name, low in minimum.items():
        if getattr(FLAGS, name) < low:
            raise app.UsageError(f"--{name} must be >= {low}, got {getattr(FLAGS, name)}.")
    if FLAGS.num_real_samples is not None and FLAGS.num_real_samples < 2:
        raise app.UsageError(f"--num_real_samples must be >= 2, got {FLAGS.num_real_samples}.")
    if FLAGS.is_splits > FLAGS.num_samples:
        raise app.UsageError(f"--is_splits ({FLAGS.is_splits}) cannot exceed --num_samples ({FLAGS.num_samples}).")
    bad = [s for s in FLAGS.splits if s not in ("train", "test")]
    if bad or not FLAGS.splits:
        raise app.UsageError(f"--splits must be a non-empty subset of train,test, got {FLAGS.splits}.")
    if not FLAGS.run_dir:
        return None
    from dat_tf.train.run_dir import RunDir

    try:
        return RunDir(FLAGS.run_dir)
    except (ValueError, FileNotFoundError) as e:
        raise app.UsageError(f"--run_dir: {e}") from None


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    run = _validate()
    t0 = time.perf_counter()
    from dat_tf.files import dumps, write_text_atomic
    from dat_tf.metrics import InceptionUnavailableError, evaluate, get_classifier

    try:
        classifier = get_classifier(
            FLAGS.classifier,
            feature_layer=FLAGS.feature_layer,
            logits_layer=FLAGS.logits_layer,
            inception_path=FLAGS.inception_path,
        )
    except (InceptionUnavailableError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    timings = {}
    generator, dataset, sources, source_label = FLAGS.generator, FLAGS.dataset, None, FLAGS.generator
    if run is not None:
        from dat_tf.train.checkpoints import CheckpointRestoreError
        from dat_tf.train.metrics_callback import real_sources

        try:
            generator, step = run.load_generator(FLAGS.step)
            sources = real_sources(run.config, tuple(FLAGS.splits))
        except (ValueError, FileNotFoundError, CheckpointRestoreError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        dataset = run.config.dataset
        source_label = f"{FLAGS.run_dir}@{step}" if step is not None else run.exported_generator_path
    rows = evaluate(
        generator,
        dataset=dataset,
        real_sources=sources,
        classifier=classifier,
        num_samples=FLAGS.num_samples,
        seeds=range(FLAGS.seeds),
        splits=tuple(FLAGS.splits),
        num_real_samples=FLAGS.num_real_samples,
        batch_size=FLAGS.batch_size,
        is_splits=FLAGS.is_splits,
        kid_max_block_size=FLAGS.kid_max_block_size,
        cache_dir=FLAGS.cache_dir,
        timings=timings,
    )
    lines = [dumps({**row, "generator": source_label}) for row in rows]
    print("\n".join(lines), flush=True)
    if FLAGS.output:
        write_text_atomic(FLAGS.output, "\n".join(lines) + "\n")
    timings["total"] = time.perf_counter() - t0
    print(f"eval seconds: {dumps({k: round(v, 2) for k, v in timings.items()})}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    app.run(main)  # exits with main's return code
