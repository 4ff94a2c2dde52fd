"""Trains the offline metric classifier on scikit-learn's 8x8 digits (no download; ``dat-train-digits-classifier``,
``python bin/train_digits_classifier.py`` in a checkout).

    python bin/train_digits_classifier.py            # writes dat_tf/metrics/assets/digits_classifier.{keras,json}

Train / test split: ``dat_tf.data.load_digits_array(split=..., test_fraction=0.2, seed=0)``, the
GANs' own hold-out, so the reported test accuracy is on images no GAN trains on.
"""

import json
import os
import time

from dat_tf.quiet import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import app, flags  # noqa: E402

from dat_tf.commands import program, start  # noqa: E402
from dat_tf.metrics.classifiers import DIGITS_CLASSIFIER_PATH  # noqa: E402

flags.DEFINE_string("output", DIGITS_CLASSIFIER_PATH, "Where to write the .keras file (the .json goes beside it).")
flags.DEFINE_integer("epochs", 60, "Training epochs.")
flags.DEFINE_integer("seed", 0, "Keras / numpy / TF seed for initialisation, dropout and shuffling.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_bool("augment", True, "Add one-pixel shifts of the training images.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    for name in ("epochs", "batch_size"):
        if getattr(FLAGS, name) < 1:
            raise app.UsageError(f"--{name} must be >= 1, got {getattr(FLAGS, name)}.")
    if not FLAGS.output.endswith(".keras"):
        raise app.UsageError(f"--output must end in .keras, got {FLAGS.output!r}.")
    from dat_tf.metrics.digits import save_digits_classifier, train_digits_classifier

    t0 = time.perf_counter()
    model, info = train_digits_classifier(
        epochs=FLAGS.epochs, seed=FLAGS.seed, batch_size=FLAGS.batch_size, augment=FLAGS.augment
    )
    info["train_seconds"] = round(time.perf_counter() - t0, 1)
    json_path = save_digits_classifier(model, info, FLAGS.output)
    size = os.path.getsize(FLAGS.output)
    print(json.dumps({"output": FLAGS.output, "json": json_path, "bytes": size, **info}))


def run():
    """The ``dat-train-digits-classifier`` entry point (``bin/train_digits_classifier.py`` calls it too)."""
    start(main, __name__, program("bin/train_digits_classifier.py", "dat-train-digits-classifier"))
