"""LinearDecay: closed form, zero at n_iter, counted in generator steps."""

import keras
import numpy as np
import pytest

from dat_tf.train.config import TrainConfig
from dat_tf.train.schedules import LinearDecay
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
