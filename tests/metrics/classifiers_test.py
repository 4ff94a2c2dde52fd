"""dat_tf.metrics.classifiers: the digits CNN, Keras files, and the Inception loader (mocked / missing)."""

import json
import os
import sys
import time
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.data.digits import load_digits_array
from dat_tf.metrics import classifiers as C
from dat_tf.metrics import compute_activations


@pytest.fixture(scope="module")
def digits():
    return C.digits_classifier()


# ---------------------------------------------------------------- digits


def test_digits_classifier_held_out_accuracy(digits):
    x, y = load_digits_array(None, split="test", test_fraction=0.2, seed=0)  # the GANs' hold-out
    features, logits = compute_activations(x, digits, batch_size=100)
    acc = float(np.mean(logits.argmax(1) == y))
    print(f"digits classifier held-out test accuracy: {acc:.4f} on {len(y)} images")
    assert acc >= 0.95
    assert features.shape == (len(x), 64) and logits.shape == (len(x), 10)
    info = json.load(open(C.DIGITS_CLASSIFIER_INFO))
    assert info["num_test"] == len(y)
    assert abs(info["test_accuracy"] - acc) < 1.5 / len(y)  # the committed JSON tells the truth
    assert os.path.getsize(C.DIGITS_CLASSIFIER_PATH) < 1_000_000


def test_digits_classifier_resizes_other_sizes_and_channels(digits):
    x16, y = load_digits_array(16, split="test")
    _, logits16 = digits(x16)
    _, logits_rgb = digits(np.repeat(x16, 3, axis=-1))
    assert logits16.shape == (len(y), 10)
    np.testing.assert_allclose(logits_rgb.numpy(), logits16.numpy(), rtol=1e-5, atol=1e-5)
    assert np.mean(logits16.numpy().argmax(1) == y) >= 0.9  # 8 -> 16 -> 8 keeps the digits readable
    f3, _ = digits(x16[:5, :, :, 0])  # [B, H, W] also accepted
    assert f3.shape == (5, 64)


def test_keras_classifier_file_with_layer_names(tmp_path):
    inp = keras.Input((4, 4, 3))
    h = keras.layers.Flatten()(inp)
    feat = keras.layers.Dense(7, name="emb")(h)
    out = keras.layers.Dense(3, name="head")(feat)
    model = keras.Model(inp, out)
    path = str(tmp_path / "clf.keras")
    model.save(path)
    clf = C.get_classifier(path, feature_layer="emb", logits_layer="head")
    x = np.random.default_rng(0).uniform(-1, 1, size=(6, 4, 4, 3)).astype(np.float32)
    f, logits = clf(x)
    np.testing.assert_allclose(logits.numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert f.shape == (6, 7)
    f_big, _ = clf(np.zeros((2, 12, 12, 1), np.float32))  # resized and tiled to 4x4x3
    assert f_big.shape == (2, 7)
    assert clf.cache_key.startswith("clf-") and len(clf.cache_key) > 8
    with pytest.raises(ValueError, match="not a layer.*emb"):
        C.KerasClassifier(path, "nope", "head")
    with pytest.raises(ValueError, match="feature_layer"):
        C.get_classifier(path)
    with pytest.raises(ValueError, match="Unknown classifier"):
        C.get_classifier("resnet")


# ---------------------------------------------------------------- inception


class _FakeInception(tf.Module):
    """Stands in for the TF-GAN Hub module: pool_3 [B, 1, 1, 2048] and logits [B, 1008]."""

    def __init__(self):
        super().__init__()
        self.seen_shapes = []

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        m = tf.reduce_mean(images, axis=[1, 2, 3])
        pool = tf.tile(m[:, None, None, None], [1, 1, 1, 2048])
        logits = tf.tile(m[:, None], [1, 1008]) + tf.range(1008, dtype=tf.float32)
        return {"pool_3": pool, "logits": logits, "height": tf.shape(images)[1:4]}


def test_inception_mocked_hub_handle(monkeypatch, tmp_path):
    calls = []

    def fake_load(handle):
        calls.append(handle)
        return _FakeInception()

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))  # nothing cached there
    monkeypatch.setattr(C, "reachable", lambda url, timeout=3.0: True)
    monkeypatch.setitem(sys.modules, "tensorflow_hub", types.SimpleNamespace(load=fake_load))
    clf = C.get_classifier("inception")
    assert calls == [C.INCEPTION_TFHUB]
    images = np.full((3, 8, 8, 1), 0.25, np.float32)  # grey 8x8: tiled to RGB, resized to 299
    features, logits = clf(images)
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    np.testing.assert_allclose(features.numpy(), 0.25, atol=1e-6)  # bilinear resize keeps a constant
    assert tuple(clf._preprocess(tf.constant(images)).shape) == (3, 299, 299, 3)


def test_inception_local_saved_model_path(tmp_path):
    path = str(tmp_path / "inception")
    tf.saved_model.save(_FakeInception(), path)
    clf = C.load_inception(path)
    features, logits = clf(np.full((2, 32, 32, 3), -0.5, np.float32))
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    np.testing.assert_allclose(features.numpy(), -0.5, atol=1e-6)
    assert clf.cache_key.startswith("inception-")


def test_missing_inception_fails_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("DAT_TF_INCEPTION_PATH", raising=False)
    # The real network probe on a host that can never resolve (RFC 2606 .invalid).
    start = time.perf_counter()
    with pytest.raises(C.InceptionUnavailableError) as err:
        C.load_inception("https://tfhub.invalid/tensorflow/tfgan/eval/inception/1")
    assert time.perf_counter() - start < 10.0
    message = str(err.value)
    for hint in ("--inception_path", "TFHUB_CACHE_DIR", "--classifier=digits", "unreachable"):
        assert hint in message, hint
    # The default handle with the probe reporting no network: same advice, no download attempt.
    monkeypatch.setattr(C, "reachable", lambda url, timeout=3.0: False)
    monkeypatch.setattr(C, "_hub_load", lambda handle: pytest.fail("must not try to download"))
    start = time.perf_counter()
    with pytest.raises(C.InceptionUnavailableError, match="inception_path"):
        C.get_classifier("inception")
    assert time.perf_counter() - start < 10.0
    with pytest.raises(C.InceptionUnavailableError, match="not a SavedModel"):
        C.load_inception(str(tmp_path / "missing"))


def test_reachable_probe_is_bounded():
    start = time.perf_counter()
    assert C.reachable("https://tfhub.invalid/x", timeout=1.0) is False
    assert C.reachable("not a url", timeout=1.0) is False
    assert time.perf_counter() - start < 3.0
