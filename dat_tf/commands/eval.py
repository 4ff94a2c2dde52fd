"""FID / KID (train and test split) and IS of a run or a saved generator; one JSON line per metric
(``dat-eval``; ``python bin/eval.py`` in a checkout).

    python bin/eval.py --run_dir=runs/x [--step=5000] --classifier=digits --num_samples=10000 --seeds=3
    python bin/eval.py --generator=runs/digits/generator.keras --dataset=digits --classifier=digits
    python bin/eval.py --generator=runs/sngan_cifar10_dat/generator.keras --dataset=cifar10 \\
        --classifier=inception --num_samples=50000 [--data_dir=DIR] [--download=false] [--inception_path=DIR]

With ``--run_dir`` the generator is the run's newest checkpoint (or ``--step``'s; ``generator.keras``
for a run without checkpoints) and the real images are the run's dataset (its train and test splits
as in the paper's A.2). With ``--generator``, ``--dataset`` names the real images (any image dataset
of ``bin/train.py``'s ``--dataset``), loaded at the generator's output size.

Prints e.g. ``{"metric": "fid_train", "mean": ..., "std": ..., "values": [...], ...}`` for
fid_train, kid_train, fid_test, kid_test and is (``std`` over the evaluation seeds 0..seeds-1).
The lines are strict JSON: a value that is not finite (KID's ``block_std`` with one block) is ``null``.
Works offline with ``--dataset=digits`` and ``--classifier=digits`` (or a Keras classifier file). A tfds
dataset that is not prepared is downloaded, as tfds does, after a probe of its host of at most 3 s
(``--download=false`` never reaches out; offline, or without network, prepare it elsewhere and pass
``--data_dir``); ``--classifier=inception`` is fetched from TF-Hub the same way, or read from its cache
($TFHUB_CACHE_DIR) or a local copy (``--inception_path``).

The cheap checks come first: flags and files (exit 2), then the generator, then the real data and the
classifier (exit 4 when either is not available on this machine, before any image is generated).

Exit codes: 0 metrics printed; 2 bad flags or an unreadable generator / run folder; 4 a needed
dataset or classifier network is not available offline (the message says how to get it).
"""

import os
import sys
import time

from dat_tf.quiet import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import flags  # noqa: E402

from dat_tf.commands import checked_flags, generator_source, program, start  # noqa: E402
from dat_tf.data import registry  # noqa: E402  (the registry module itself imports no TensorFlow)
from dat_tf.train.cli import EXIT_USAGE as EXIT_BAD_FLAGS, FlagError, fail  # noqa: E402

EXIT_NOT_AVAILABLE = 4

IMAGE_DATASETS = tuple(n for n, d in registry.DATASETS.items() if d.kind == "images") + (
    registry.FOLDER_PREFIX + "<path>",
)

flags.DEFINE_string("run_dir", None, "A bin/train.py run directory (config.json + checkpoints/).")
flags.DEFINE_integer("step", None, "With --run_dir: the checkpoint's generator step (default: the newest).")
flags.DEFINE_string("generator", None, "Saved Keras generator z -> images (.keras / .h5); latent size from its input.")
flags.DEFINE_string("dataset", "digits", f"With --generator: the real images, one of {list(IMAGE_DATASETS)}.")
flags.DEFINE_string("data_dir", None, "tfds data folder with the prepared dataset, or the image folder (tinyimagenet); "
                    "with --run_dir the run's own --data_dir is the default.")
flags.DEFINE_bool("download", True, "Download and prepare a tfds dataset that is not prepared (tfds's default), after "
                  "a probe of its host of at most 3 s; --download=false never reaches out.")
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


def _dataset_of_flag():
    """The registry entry of ``--dataset`` (an image dataset), or a usage error listing the allowed ones."""
    try:
        data = registry.get_dataset(FLAGS.dataset)
    except ValueError:
        raise FlagError(f"--dataset must be one of {list(IMAGE_DATASETS)}, got {FLAGS.dataset!r}.") from None
    if data.kind != "images":
        raise FlagError(
            f"--dataset={FLAGS.dataset!r} is not an image dataset (FID/KID/IS need images); "
            f"expected one of {list(IMAGE_DATASETS)}."
        )
    return data


def _validate():
    """Checks the flags and that the named files exist; returns the :class:`RunDir` of ``--run_dir`` (or ``None``)."""
    if FLAGS.run_dir and FLAGS["dataset"].present:
        raise FlagError("--dataset only applies with --generator; a run evaluates against its own dataset.")
    if FLAGS.generator:
        data = _dataset_of_flag()
        if FLAGS["download"].present and FLAGS.download and data.source != "tfds":
            raise FlagError(f"--download only applies to the tfds datasets, not --dataset={FLAGS.dataset!r}.")
        if FLAGS.data_dir and data.source in ("bundled", "generated"):
            raise FlagError(f"--data_dir does not apply to --dataset={FLAGS.dataset!r} (it ships with a package).")
    clf = FLAGS.classifier
    if clf not in ("digits", "inception"):
        if not clf.endswith((".keras", ".h5")):
            raise FlagError(f"--classifier must be 'digits', 'inception' or a .keras/.h5 file, got {clf!r}.")
        if not os.path.isfile(clf):
            raise FlagError(f"--classifier file not found: {clf!r}.")
        if not FLAGS.feature_layer or not FLAGS.logits_layer:
            raise FlagError("a Keras classifier file needs --feature_layer and --logits_layer.")
    elif FLAGS.feature_layer or FLAGS.logits_layer:
        raise FlagError(f"--feature_layer/--logits_layer only apply to a classifier file, not {clf!r}.")
    if FLAGS.inception_path and clf != "inception":
        raise FlagError("--inception_path only applies with --classifier=inception.")
    path = FLAGS.inception_path
    if path and "://" not in path and not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise FlagError(f"--inception_path={path!r} is not a SavedModel folder (no saved_model.pb in it).")
    minimum = {"num_samples": 2, "seeds": 1, "batch_size": 1, "is_splits": 1, "kid_max_block_size": 2}
    for name, low in minimum.items():
        if getattr(FLAGS, name) < low:
            raise FlagError(f"--{name} must be >= {low}, got {getattr(FLAGS, name)}.")
    if FLAGS.num_real_samples is not None and FLAGS.num_real_samples < 2:
        raise FlagError(f"--num_real_samples must be >= 2, got {FLAGS.num_real_samples}.")
    if FLAGS.is_splits > FLAGS.num_samples:
        raise FlagError(f"--is_splits ({FLAGS.is_splits}) cannot exceed --num_samples ({FLAGS.num_samples}).")
    bad = [s for s in FLAGS.splits if s not in ("train", "test")]
    if bad or not FLAGS.splits:
        raise FlagError(f"--splits must be a non-empty subset of train,test, got {FLAGS.splits}.")
    if FLAGS.generator and not os.path.isfile(FLAGS.generator):
        raise FlagError(f"--generator file not found: {FLAGS.generator!r}.")
    return generator_source(FLAGS)


def _real_sources(data, resolution, data_dir):
    """``{split: tf.data}`` of the real images, or ``None`` for a bundled dataset (evaluate loads it).

    Raises DatasetNotFoundError in seconds when the data is not there and cannot be downloaded.
    """
    if data.source == "bundled":
        return None
    return {
        split: data.load(split, FLAGS.batch_size, resolution=resolution, data_dir=data_dir, download=FLAGS.download,
                         shuffle=False, repeat=False)
        for split in FLAGS.splits
    }


def _inception_note():
    """One sentence when ``--classifier=inception`` is not on this machine (checked without the network)."""
    from dat_tf.metrics.classifiers import INCEPTION_TFHUB, inception_is_local

    if FLAGS.classifier != "inception" or inception_is_local(FLAGS.inception_path):
        return ""
    handle = FLAGS.inception_path or os.environ.get("DAT_TF_INCEPTION_PATH") or INCEPTION_TFHUB
    return (
        f"\nThe FID Inception network ({handle}) is not on this machine either: pass --inception_path=<a local copy "
        "of its SavedModel folder> or set $TFHUB_CACHE_DIR to a TF-Hub cache that holds it (with network access "
        "it is downloaded on first use)."
    )


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # tfds's INFO lines ("Constructing tf.data.Dataset ...") are noise here
    run, code = checked_flags(argv, _validate)
    if code is not None:
        return code
    t0 = time.perf_counter()
    from dat_tf.data.errors import DatasetUnavailableError
    from dat_tf.files import dumps, write_text_atomic
    from dat_tf.metrics import InceptionUnavailableError, evaluate, get_classifier, load_generator

    # 1. The generator (a local file): unreadable -> exit 2.
    if run is None:
        data, dataset, data_dir, source_label = _dataset_of_flag(), FLAGS.dataset, FLAGS.data_dir, FLAGS.generator
        try:
            generator = load_generator(FLAGS.generator)
        except Exception as e:  # noqa: BLE001 - any load failure is a bad --generator file
            return fail(EXIT_BAD_FLAGS, f"--generator={FLAGS.generator!r} cannot be loaded as a Keras model: {e}")
        shape = tuple(generator.output_shape)
        resolution = int(shape[1]) if len(shape) == 4 and shape[1] else None
    else:
        from dat_tf.train.checkpoints import CheckpointRestoreError

        cfg = run.config
        data, dataset, data_dir = registry.get_dataset(cfg.dataset), cfg.dataset, FLAGS.data_dir or cfg.data_dir
        if data.kind != "images":
            return fail(EXIT_BAD_FLAGS, f"--run_dir={FLAGS.run_dir!r} trained on {cfg.dataset!r}: FID/KID/IS need "
                                         "image data (the 2D mixtures have dat_tf.metrics.mixture).")
        try:
            generator, step = run.load_generator(FLAGS.step)
        except (ValueError, FileNotFoundError, CheckpointRestoreError) as e:
            return fail(EXIT_BAD_FLAGS, str(e))
        resolution = cfg.image_resolution()
        source_label = f"{FLAGS.run_dir}@{step}" if step is not None else run.exported_generator_path
    # 2. The real data, then the classifier: not on this machine -> exit 4, before any image is generated.
    try:
        sources = _real_sources(data, resolution, data_dir)
    except DatasetUnavailableError as e:  # not prepared, or unreadable images
        return fail(EXIT_NOT_AVAILABLE, f"{e}{_inception_note()}")
    try:
        classifier = get_classifier(
            FLAGS.classifier,
            feature_layer=FLAGS.feature_layer,
            logits_layer=FLAGS.logits_layer,
            inception_path=FLAGS.inception_path,
        )
    except InceptionUnavailableError as e:
        return fail(EXIT_NOT_AVAILABLE, str(e))
    except (ValueError, FileNotFoundError) as e:
        return fail(EXIT_BAD_FLAGS, str(e))
    timings = {}
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
        resolution=resolution,
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


def run():
    """The ``dat-eval`` entry point (``bin/eval.py`` calls it too); exits with ``main``'s return code."""
    start(main, __name__, program("bin/eval.py", "dat-eval"))
