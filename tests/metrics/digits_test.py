"""dat_tf.metrics.digits: the recipe behind the committed digits classifier, and its split."""

import json
import os
import zipfile

import numpy as np

from dat_tf.data.digits import load_digits_array
from dat_tf.metrics import compute_activations, digits_classifier
from dat_tf.metrics.digits import digits_split, save_digits_classifier, train_digits_classifier


def test_split_is_the_gans_hold_out():
    x_train, y_train = digits_split("train")
    x_test, y_test = digits_split("test")
    gan_train, _ = load_digits_array(None, split="train")  # what dat_tf.data.digits() trains GANs on
    assert (len(x_train), len(x_test)) == (1438, 359)
    np.testing.assert_array_equal(x_train, gan_train)
    train_rows = {r.tobytes() for r in x_train}
    overlap = sum(r.tobytes() in train_rows for r in x_test)
    assert overlap <= 2  # the UCI set holds a few exact duplicate images; nothing more is shared
    assert x_train.min() == -1.0 and x_train.max() == 1.0


def test_short_training_saves_a_loadable_classifier(tmp_path):
    model, info = train_digits_classifier(epochs=3, seed=0, augment=False)
    path = str(tmp_path / "digits.keras")
    json_path = save_digits_classifier(model, info, path)
    saved = json.load(open(json_path))
    assert saved["test_accuracy"] == info["test_accuracy"] > 0.6
    assert saved["split"]["test_fraction"] == 0.2 and saved["split"]["seed"] == 0
    clf = digits_classifier(path)
    x, y = digits_split("test")
    _, logits = compute_activations(x, clf)
    assert abs(np.mean(logits.argmax(1) == y) - info["test_accuracy"]) < 1e-9
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert not config.get("compile_config")  # saved uncompiled: no optimizer state in the file


def test_committed_file_is_uncompiled_and_small():
    from dat_tf.metrics.classifiers import DIGITS_CLASSIFIER_PATH

    with zipfile.ZipFile(DIGITS_CLASSIFIER_PATH) as z:
        assert not json.loads(z.read("config.json")).get("compile_config")
    assert os.path.getsize(DIGITS_CLASSIFIER_PATH) < 1_000_000
