"""dat_tf.metrics.realstats: real-set statistics are cached by dataset, split, classifier and count."""

import os

import numpy as np
import pytest
import tensorflow as tf

from dat_tf.metrics import cache_key, real_images, real_statistics
from dat_tf.metrics.classifiers import Classifier


class _Counting(Classifier):
    name = "counting"
    cache_key = "counting-v1"

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        return super().__call__(images)

    def _forward(self, images):
        flat = tf.reshape(images, [tf.shape(images)[0], -1])
        return flat[:, :6], flat[:, :10]


def test_second_call_reads_the_cache(tmp_path):
    clf = _Counting()
    first = real_statistics("digits", "train", clf, 300, cache_dir=str(tmp_path), batch_size=128)
    assert not first["from_cache"] and clf.calls == 3 and first["n"] == 300
    assert os.path.isfile(first["path"]) and os.path.dirname(first["path"]) == str(tmp_path)
    second = real_statistics("digits", "train", clf, 300, cache_dir=str(tmp_path), batch_size=128)
    assert second["from_cache"] and clf.calls == 3  # the classifier was not run again
    for k in ("features", "logits", "mu", "sigma"):
        np.testing.assert_array_equal(first[k], second[k])
    np.testing.assert_allclose(first["mu"], first["features"].mean(0))
    np.testing.assert_allclose(first["sigma"], np.cov(first["features"].astype(np.float64), rowvar=False))
    # The images really are the train split's first 300.
    np.testing.assert_array_equal(first["features"], real_images("digits", "train").reshape(-1, 64)[:300, :6])


def test_key_changes_with_count_split_classifier_and_resolution(tmp_path):
    clf = _Counting()
    a = real_statistics("digits", "test", clf, 100, cache_dir=str(tmp_path))
    b = real_statistics("digits", "test", clf, 120, cache_dir=str(tmp_path))
    assert a["key"] != b["key"] and not b["from_cache"] and b["n"] == 120
    everything = real_statistics("digits", "test", clf, None, cache_dir=str(tmp_path))
    assert everything["n"] == 359 and "n359" in everything["key"]
    capped = real_statistics("digits", "test", clf, 10**6, cache_dir=str(tmp_path))
    assert capped["from_cache"] and capped["key"] == everything["key"]  # capped at the split size
    keys = {
        cache_key("digits", "train", "counting-v1", 100),
        cache_key("digits", "test", "counting-v1", 100),
        cache_key("digits", "test", "counting-v2", 100),
        cache_key("digits", "test", "counting-v1", 100, resolution=16),
    }
    assert len(keys) == 4 and a["key"] in keys
    assert len(os.listdir(tmp_path)) == 3  # no temporary files left behind


def test_custom_source_and_unknown_dataset(tmp_path, rng):
    clf = _Counting()
    imgs = rng.uniform(-1, 1, size=(40, 4, 4, 1)).astype(np.float32)
    stats = real_statistics("mine", "train", clf, 40, source=imgs, cache_dir=str(tmp_path))
    np.testing.assert_allclose(stats["features"], imgs.reshape(40, -1)[:, :6])
    assert stats["key"].startswith("mine-train-counting-v1-n40")
    with pytest.raises(ValueError, match="Unknown dataset"):
        real_statistics("cifar10", "train", clf, 10, cache_dir=str(tmp_path))
