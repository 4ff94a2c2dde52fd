"""The offline metric classifier: a small CNN on scikit-learn's 8x8 digits.

Images come from :func:`dat_tf.data.load_digits_array` (``x / 8 - 1`` in
``[-1, 1]``, ``[N, 8, 8, 1]``) with the same fixed, seeded hold-out the GANs use
(``test_fraction=0.2, seed=0``), so the reported test accuracy is on images no
GAN and no classifier trained on.  Layers: two 3x3 convolutions (16, 32; the
second with stride 2), a 64-unit ReLU dense layer named ``features`` (the FID /
KID embedding) and a 10-unit linear layer named ``logits`` (IS).  Only built-in
Keras layers, so the file loads without custom objects.

``bin/train_digits_classifier.py`` writes ``assets/digits_classifier.keras``
and ``assets/digits_classifier.json`` (its held-out accuracy and settings).
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from dat_tf.data.digits import load_digits_array
from dat_tf.files import dumps, write_text_atomic

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def build_digits_classifier(feature_dim: int = 64) -> keras.Model:
    x_in = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(x_in)
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dropout(0.3, name="dropout")(h)
    f = keras.layers.Dense(feature_dim, activation="relu", name="features")(h)
    logits = keras.layers.Dense(10, name="logits")(f)
    return keras.Model(x_in, logits, name="digits_classifier")


def digits_split(split: str):
    """``(images [N, 8, 8, 1], labels [N])`` of the GANs' train or test split."""
    return load_digits_array(None, split=split, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)


def digits_split_at(split: str, resolution: int | None = None) -> np.ndarray:
    """The images of a digits split at the GANs' ``resolution`` (same hold-out as :func:`digits_split`)."""
    return load_digits_array(resolution, split=split, test_fraction=TEST_FRACTION, seed=SPLIT_SEED)[0]


def accuracy(model: keras.Model, images, labels) -> float:
    logits = model.predict(images, batch_size=512, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def train_digits_classifier(epochs: int = 60, seed: int = 0, batch_size: int = 64, augment: bool = True):
    """Trains the CNN on the train split; returns ``(model, info dict)``."""
    keras.utils.set_random_seed(seed)
    x_train, y_train = digits_split("train")
    x_test, y_test = digits_split("test")
    if augment:  # one-pixel shifts: 9x the data, still only the train split
        padded = np.pad(x_train, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-1.0)
        shifts = [padded[:, 1 + dy : 9 + dy, 1 + dx : 9 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        x_fit, y_fit = np.concatenate(shifts), np.tile(y_train, len(shifts))
    else:
        x_fit, y_fit = x_train, y_train
    model = build_digits_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_fit, y_fit, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)
    info = {
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_accuracy": accuracy(model, x_train, y_train),
        "num_train": int(len(x_train)),
        "num_test": int(len(x_test)),
        "split": {"function": "dat_tf.data.digits.load_digits_array", "test_fraction": TEST_FRACTION, "seed": SPLIT_SEED},
        "epochs": epochs,
        "seed": seed,
        "augment_one_pixel_shifts": augment,
        "feature_layer": "features",
        "logits_layer": "logits",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    return model, info


def save_digits_classifier(model: keras.Model, info: dict, path: str) -> str:
    """Writes ``path`` (``.keras``, no optimizer state) and ``path`` with ``.json``; returns the JSON path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    clean = build_digits_classifier(model.get_layer("features").units)  # uncompiled: no optimizer state
    clean.set_weights(model.get_weights())
    clean.save(path)
    json_path = os.path.splitext(path)[0] + ".json"
    write_text_atomic(json_path, dumps(info, indent=2, sort_keys=True) + "\n")
    return json_path
