"""Gradient-norm diagnostics on a cadence: the same logged values and the same training as computing them every step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import GAN


def _gan(every="epoch", **compile_kw):
    keras.utils.set_random_seed(3)
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    gan = GAN(g, d, latent_dim=2, regularizer="dat", seed=1, diagnostics_every=every)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), **compile_kw)
    return gan


DATA = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
NORMS = ("grad_norm_real", "grad_norm_fake", "grad_norm_interp")


def _fit(gan, steps_per_epoch, epochs, data=DATA):
    return gan.fit(data, batch_size=8, steps_per_epoch=steps_per_epoch, epochs=epochs, shuffle=False,
                   verbose=0).history


def _measured_steps(gan):
    """Records the generator step of every measurement (eager: only the branch taken runs)."""
    steps, norms = [], gan.critic.gradient_norms

    def counting(x):
        steps.append(int(gan.g_steps.numpy()) + 1)
        return norms(x)

    gan.critic.gradient_norms = counting
    return steps


def test_the_default_measures_once_per_epoch_on_its_last_step_and_logs_that_value():
    default, every_step = _gan(run_eagerly=True), _gan(1)
    measured = _measured_steps(default)
    a, b = _fit(default, 4, 2), _fit(every_step, 4, 2)
    assert default.diagnostics_every == "epoch"
    assert measured == [4, 4, 4, 8, 8, 8]  # three passes (reals, fakes, interpolates) per measurement
    for name in NORMS:  # every step logs each step's value: the epoch's last is what "epoch" measured
        assert a[name] == pytest.approx(b[name], rel=1e-5), name
        assert min(a[name]) > 0
    for w1, w2 in zip(default.get_weights(), every_step.get_weights()):
        np.testing.assert_allclose(w1, w2, rtol=1e-6, atol=1e-7)  # the diagnostics do not touch training


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


def test_an_epoch_without_a_multiple_measures_its_last_step():
    gan = _gan(100, run_eagerly=True)
    measured = _measured_steps(gan)
    h = _fit(gan, 3, 1)  # steps 1-3: no multiple of 100, so the epoch's last step is measured
    every_step = _fit(_gan(1), 3, 1)  # step 3's values: what computing on every step logs
    assert measured == [3, 3, 3]
    for name in NORMS:
        assert h[name][0] == pytest.approx(every_step[name][0], rel=1e-5), name


def test_an_epoch_of_unknown_length_measures_its_first_step():
    data = tf.data.Dataset.from_tensor_slices(DATA[:24]).batch(8).filter(lambda x: True)  # cardinality unknown
    gan, first = _gan(run_eagerly=True), _gan()
    measured = _measured_steps(gan)
    h = gan.fit(data, epochs=2, shuffle=False, verbose=0).history
    f = _fit(first, 1, 1)
    assert measured == [1, 1, 1, 4, 4, 4]  # each epoch's first step
    for name in NORMS:
        assert h[name][0] == pytest.approx(f[name][0], rel=1e-5), name


def test_diagnostics_every_is_checked_and_saved(tmp_path):
    for bad in (0, "step", 2.0, True):
        with pytest.raises(ValueError, match=f"diagnostics_every must be 'epoch' or an integer >= 1, got {bad!r}"):
            _gan(bad)
    for every in (7, "epoch"):
        gan = _gan(every)
        _fit(gan, 1, 1)
        gan.save(tmp_path / "g.keras")
        assert keras.models.load_model(tmp_path / "g.keras").diagnostics_every == every
