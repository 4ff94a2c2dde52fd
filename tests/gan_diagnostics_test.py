"""Gradient-norm diagnostics on a cadence: the same logged values and the same training as computing them every step."""

import keras
import numpy as np
import pytest

from dat_tf import GAN


def _gan(every):
    keras.utils.set_random_seed(3)
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    gan = GAN(g, d, latent_dim=2, regularizer="dat", seed=1, diagnostics_every=every)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    return gan


DATA = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
NORMS = ("grad_norm_real", "grad_norm_fake", "grad_norm_interp")


def _fit(gan, steps_per_epoch, epochs):
    return gan.fit(DATA, batch_size=8, steps_per_epoch=steps_per_epoch, epochs=epochs, shuffle=False, verbose=0).history


def test_an_epoch_ending_on_the_cadence_logs_the_value_of_its_last_step():
    every_step, on_cadence = _gan(1), _gan(4)
    a, b = _fit(every_step, 4, 2), _fit(on_cadence, 4, 2)
    for w1, w2 in zip(every_step.get_weights(), on_cadence.get_weights()):
        np.testing.assert_array_equal(w1, w2)  # the diagnostics do not touch training
    # The value at step 4: what a model measured after its 4th step logs (every=1 logs each step's value).
    last = _gan(1)
    _fit(last, 3, 1)
    final = last.fit(DATA[24:], batch_size=8, steps_per_epoch=1, epochs=1, shuffle=False, verbose=0).history
    for name in NORMS:
        assert b[name][0] == pytest.approx(final[name][0], rel=1e-5), name
        assert b[name][0] > 0
        assert a[name][0] == pytest.approx(b[name][0], rel=1e-5), name  # every step: the latest is step 4's too


def test_an_epoch_without_a_multiple_logs_its_first_step():
    gan, first = _gan(100), _gan(1)
    h = _fit(gan, 3, 1)  # steps 1-3: no multiple of 100, so the epoch's first step is measured
    f = _fit(first, 1, 1)
    every_step = _fit(_gan(1), 3, 1)  # step 3's values: what computing on every step would have logged
    for name in NORMS:
        assert h[name][0] == pytest.approx(f[name][0], rel=1e-5), name
        assert h[name][0] != pytest.approx(every_step[name][0], rel=1e-3), name  # steps 2-3 were not measured


def test_diagnostics_every_is_checked_and_saved(tmp_path):
    with pytest.raises(ValueError, match="diagnostics_every must be an integer >= 1, got 0"):
        _gan(0)
    gan = _gan(7)
    _fit(gan, 1, 1)
    gan.save(tmp_path / "g.keras")
    assert keras.models.load_model(tmp_path / "g.keras").diagnostics_every == 7
