"""crossed(): the one "every N generator steps" rule, and the three callbacks that act on it."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.train import callbacks as callbacks_module
from dat_tf.train.callbacks import ProgressLogger, TensorBoardLogger, format_duration
from dat_tf.train.schedules import crossed
from dat_tf.train.checkpoints import CheckpointCallback
from dat_tf.train.config import TrainConfig
from dat_tf.train.metrics_callback import MetricsCallback


def _brute_force(prev, step, every):
    return any(k % every == 0 for k in range(prev + 1, step + 1))


def test_crossed_matches_brute_force():
    cases = 0
    for every in range(1, 8):
        for prev in range(-3, 30):
            for step in range(prev, 45):
                assert crossed(prev, step, every) == _brute_force(prev, step, every), (prev, step, every)
                cases += 1
    assert cases > 5000
    assert crossed(10**12 - 1, 10**12, 10**6) and not crossed(10**12, 10**12 + 10**6 - 1, 10**6)


@pytest.mark.parametrize("every", [0, -2, 1.5, True, None])
def test_crossed_rejects_bad_periods(every):
    with pytest.raises(ValueError, match=f"every must be an integer >= 1, got {every!r}"):
        crossed(0, 10, every)


# Epoch ends that do not fall on the multiples: resumed at 3, uneven epochs, a jump over two multiples.
START, EPOCH_ENDS, EVERY = 3, [5, 8, 9, 13, 21, 22, 24], 4


def _expected(first_prev):
    acted, prev = [], first_prev
    for step in EPOCH_ENDS:
        if _brute_force(prev, step, EVERY):
            acted.append(step)
            prev = step
    return acted


def _drive(callback, model, on_begin=True):
    model.g_steps.assign(START)
    callback.set_model(model)
    if on_begin:
        callback.on_train_begin()
    for epoch, step in enumerate(EPOCH_ENDS):
        model.g_steps.assign(step)
        callback.on_epoch_end(epoch, {})


def _model():
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    return types.SimpleNamespace(generator=g, discriminator=d, latent_dim=2, g_steps=tf.Variable(0, dtype=tf.int64))


def test_checkpoint_and_metrics_callbacks_act_at_the_first_epoch_end_past_each_multiple(monkeypatch, tmp_path):
    model = _model()
    saved = []
    checkpointer = types.SimpleNamespace(step=lambda: int(model.g_steps.numpy()), save=lambda: saved.append(
        int(model.g_steps.numpy())), latest="x", state_is_finite=lambda: True)
    _drive(CheckpointCallback(checkpointer, EVERY), model)
    assert saved == _expected(START) == [5, 8, 13, 21, 24]

    evaluated = []
    cb = MetricsCallback(str(tmp_path), EVERY, TrainConfig(dataset="digits"))
    cb._classifier = object()  # skip loading the classifier: on_train_begin then only reads the step
    monkeypatch.setattr(cb, "evaluate_now", lambda step, logs=None: evaluated.append(step))
    _drive(cb, model)
    assert evaluated == saved


def test_tensorboard_logger_samples_at_the_first_epoch_end_and_past_each_multiple(monkeypatch, tmp_path):
    model = _model()
    written = []
    cb = TensorBoardLogger(str(tmp_path), sample_every=EVERY, num_samples=5)
    monkeypatch.setattr(cb, "write_samples", lambda step: written.append(step))
    _drive(cb, model)
    assert written == _expected(-1) == [5, 8, 13, 21, 24]  # the first epoch end always writes
    # The fixed latent batch: the stateless draw the logger has always used (seed [seed, 0], Philox).
    want = tf.random.stateless_normal([5, 2], seed=[1234, 0], alg="philox")
    np.testing.assert_array_equal(cb._z.numpy(), want.numpy())


def test_progress_counts_generator_steps_of_the_run_and_times_this_process(monkeypatch, capsys):
    # A run resumed at generator step 40 of 100: lines count on from 40 (not "Epoch 1"), and the speed and ETA come
    # from this process's steps and time only (10 steps in 5 s -> 2 it/s, 50 steps left -> 25 s).
    clock = iter([100.0, 105.0, 110.0])
    monkeypatch.setattr(callbacks_module.time, "perf_counter", lambda: next(clock))
    model = types.SimpleNamespace(g_steps=keras.Variable(40, dtype="int64"))
    cb = ProgressLogger(100)
    cb.set_model(model)
    cb.on_train_begin()
    model.g_steps.assign(50)
    cb.on_epoch_end(0, {"d_loss": 1.23456, "g_loss": 0.5, "reg": 3.0})
    model.g_steps.assign(100)
    cb.on_epoch_end(1, {"d_loss": 1.0, "g_loss": 0.25})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "step 50/100  d_loss 1.235  g_loss 0.5  2 it/s  ETA 25s"
    assert lines[1] == "step 100/100  d_loss 1  g_loss 0.25  6 it/s"  # 60 steps in 10 s; done: no ETA
    with pytest.raises(ValueError, match="total"):
        ProgressLogger(0)


def test_format_duration():
    assert [format_duration(s) for s in (0, 59.4, 60, 380, 3599, 3600, 7500)] == [
        "0s", "59s", "1m00s", "6m20s", "59m59s", "1h00m", "2h05m"]


def test_metrics_off_in_one_line_when_inception_is_not_available_and_the_run_trains_on(tmp_path, capsys, monkeypatch):
    """Offline (the tests' DAT_TF_OFFLINE) and no cached Inception: one line at the start, no crash, no metrics."""
    from dat_tf.train.loop import train

    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "empty_hub"))
    monkeypatch.delenv("DAT_TF_INCEPTION_PATH", raising=False)
    cfg = TrainConfig(dataset="digits", resolution=16, net="dcgan", width=4, latent_dim=8, batch_size=8, n_iter=4,
                      log_every=2, checkpoint_every=0, sample_every=0, verbose=0, steps_per_execution=1,
                      metrics_every=2, metrics_classifier="inception", metrics_num_samples=16,
                      run_dir=str(tmp_path / "run"))
    gan, history = train(cfg)
    assert int(gan.g_steps.numpy()) == 4
    lines = [l for l in capsys.readouterr().out.splitlines() if "In-training metrics" in l]
    assert len(lines) == 1 and "are off for this run" in lines[0] and "Inception" in lines[0], lines
    assert not [k for k in history if k.startswith(("fid", "kid", "is"))], sorted(history)
