"""LinearDecay: closed form, zero at n_iter, counted in generator steps; ScaledSchedule and the LR helpers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.train.config import TrainConfig
from dat_tf.train.schedules import (
    LinearDecay, ScaledSchedule, learning_rate, make_scalable, scale_learning_rate, scale_variable,
)
from dat_tf.train.loop import build_dataset, build_gan


@pytest.mark.parametrize("updates_per_step", [1, 5])
def test_closed_form(updates_per_step):
    sched = LinearDecay(2e-4, total_steps=100, updates_per_step=updates_per_step)
    for g_step in [0, 1, 37, 99, 100, 150]:
        for within in range(updates_per_step):
            got = float(sched(g_step * updates_per_step + within))
            want = 2e-4 * max(0.0, 1.0 - g_step / 100)
            assert got == pytest.approx(want, rel=1e-6, abs=1e-10)  # float32: 1e-6 of the initial rate
    assert float(sched(100 * updates_per_step)) == 0.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="-1"):
        LinearDecay(-1.0, 10)
    with pytest.raises(ValueError, match="total_steps must be an integer >= 1, got 0"):
        LinearDecay(1e-4, 0)


def test_serializes():
    sched = LinearDecay(1e-3, 50, 3)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sched))
    assert isinstance(again, LinearDecay) and again.get_config() == sched.get_config()


def test_both_players_decay_per_generator_step_in_fit(tmp_path):
    cfg = TrainConfig(
        n_iter=8, n_dis=3, lr_decay="linear", lr_d=1e-3, lr_g=2e-3, batch_size=8, width=8,
        steps_per_execution=1, verbose=0, run_dir=str(tmp_path),
    )
    gan = build_gan(cfg)
    gan.fit(build_dataset(cfg), steps_per_epoch=6, epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 18  # n_dis updates per generator step
    lr_d = float(keras.ops.convert_to_numpy(gan.d_optimizer.learning_rate))
    lr_g = float(keras.ops.convert_to_numpy(gan.g_optimizer.learning_rate))
    np.testing.assert_allclose([lr_d, lr_g], [1e-3 * (1 - 6 / 8), 2e-3 * (1 - 6 / 8)], rtol=1e-6)
    gan.fit(build_dataset(cfg), steps_per_epoch=2, epochs=1, verbose=0)
    assert float(keras.ops.convert_to_numpy(gan.d_optimizer.learning_rate)) == 0.0
    assert float(keras.ops.convert_to_numpy(gan.g_optimizer.learning_rate)) == 0.0


def test_scaled_schedule_reads_its_scale_variable_without_retracing():
    inner = LinearDecay(1e-3, 100)
    s = ScaledSchedule(inner, 0.5)
    assert float(s(50)) == pytest.approx(0.5 * 1e-3 * 0.5, rel=1e-6)
    traces = []

    @tf.function
    def rate(step):
        traces.append(1)
        return s(step)

    assert float(rate(tf.constant(20))) == pytest.approx(0.5 * 1e-3 * 0.8, rel=1e-6)
    s.scale.assign(0.125)
    assert float(rate(tf.constant(20))) == pytest.approx(0.125 * 1e-3 * 0.8, rel=1e-6)
    assert len(traces) == 1
    assert s.get_config()["factor"] == 0.125  # the value now: what gan.keras saves
    back = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    assert isinstance(back, ScaledSchedule) and back.scale is not s.scale
    assert float(back(20)) == pytest.approx(0.125 * 1e-3 * 0.8, rel=1e-6)
    for bad in (0, -1.0, float("inf"), True):
        with pytest.raises(ValueError, match="factor must be a finite number > 0"):
            ScaledSchedule(inner, bad)
    with pytest.raises(ValueError, match="schedule must be a LearningRateSchedule, got float"):
        ScaledSchedule(1e-3)


def test_scale_learning_rate_float_schedule_and_loss_scaled():
    plain = keras.optimizers.Adam(1e-3)
    assert make_scalable(plain) is False and scale_variable(plain) is plain._learning_rate
    assert scale_learning_rate(plain, 0.1) == pytest.approx(1e-4) and learning_rate(plain) == pytest.approx(1e-4)

    opt = keras.optimizers.Adam(LinearDecay(1e-3, 100))
    assert scale_variable(opt) is None
    with pytest.raises(ValueError, match="cannot scale a learning rate of type LinearDecay"):
        scale_learning_rate(opt, 0.5)
    assert make_scalable(opt) is True and make_scalable(opt) is False  # wrapped once
    opt.iterations.assign(50)
    scale_learning_rate(opt, 0.5)
    scale_learning_rate(opt, 0.5)
    assert learning_rate(opt) == pytest.approx(0.25 * 1e-3 * 0.5, rel=1e-6)  # factors multiply, not nest
    assert scale_learning_rate(opt, 0.5, current=1.0) == 0.5  # from a value read earlier, e.g. before a restore

    wrapped = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(LinearDecay(1e-3, 100)))
    assert make_scalable(wrapped) is True
    scale_learning_rate(wrapped, 0.5)
    assert learning_rate(wrapped) == pytest.approx(5e-4, rel=1e-6)
