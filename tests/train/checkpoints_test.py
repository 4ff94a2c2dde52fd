"""Checkpoints: an interrupted and resumed run equals an uninterrupted one; the LR scale is saved."""

import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.train.checkpoints import RunCheckpointer, lr_scales, state_variables
from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import build_gan, train
from dat_tf.train.schedules import LinearDecay, ScaledSchedule, learning_rate


def _cfg(run_dir, **kw):
    base = dict(
        n_iter=12, log_every=3, checkpoint_every=3, keep_checkpoints=2, batch_size=16, width=8,
        steps_per_execution=1, verbose=0, sample_every=0, run_dir=str(run_dir),
    )
    base.update(kw)
    return TrainConfig(**base)


def _weights(gan):
    return [v.numpy() for v in gan.generator.variables + gan.discriminator.variables] + [
        v.numpy() for v in gan.d_optimizer.variables + gan.g_optimizer.variables
    ]


@pytest.mark.parametrize(
    "kw",
    [
        dict(regularizer="dat", n_dis=2),
        dict(regularizer="gp", loss="wgan", lr_decay="linear"),
        dict(dataset="digits", net="dcgan", regularizer="datt", d_spectral_norm=True),
    ],
)
def test_resume_equals_uninterrupted(tmp_path, kw):
    whole, _ = train(_cfg(tmp_path / "whole", **kw))
    # The same command stopped at step 6, then rerun: a fresh process would build a
    # fresh model, restore the newest checkpoint and skip the data stream.
    train(_cfg(tmp_path / "split", **kw), until=6)
    resumed, _ = train(_cfg(tmp_path / "split", **kw))
    assert int(resumed.g_steps.numpy()) == 12
    for a, b in zip(_weights(whole), _weights(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_keeps_last_k_and_rerun_of_finished_run_does_nothing(tmp_path):
    cfg = _cfg(tmp_path / "run")
    gan, _ = train(cfg)
    index = sorted(glob.glob(os.path.join(cfg.run_dir, "checkpoints", "ckpt-*.index")))
    assert [os.path.basename(p) for p in index] == ["ckpt-12.index", "ckpt-9.index"]
    again, history = train(cfg)
    assert history == {} and int(again.g_steps.numpy()) == 12
    for a, b in zip(_weights(gan), _weights(again)):
        np.testing.assert_array_equal(a, b)


def test_no_resume_starts_over(tmp_path):
    cfg = _cfg(tmp_path / "run", n_iter=3)
    train(cfg)
    gan, _ = train(cfg, resume=False, until=1)
    assert int(gan.g_steps.numpy()) == 1


def test_schedule_scale_is_checkpointed_and_older_checkpoints_restore_with_scale_1(tmp_path):
    cfg = _cfg(tmp_path / "run", lr_decay="linear", n_dis=2)
    gan = build_gan(cfg)
    assert isinstance(gan.d_optimizer.get_config()["learning_rate"], dict)
    checkpointer = RunCheckpointer(gan, tmp_path / "a")
    scales = lr_scales(gan)
    assert sorted(scales) == ["d_lr_scale", "g_lr_scale"] and all(float(v.numpy()) == 1.0 for v in scales.values())
    assert all(any(v is s for s in state_variables(gan)) for v in scales.values())
    assert isinstance(gan.d_optimizer._learning_rate, ScaledSchedule)
    gan.d_optimizer.iterations.assign(2 * 6)  # generator step 6
    scales["d_lr_scale"].assign(0.3)
    path = checkpointer.save()

    fresh = build_gan(cfg)
    RunCheckpointer(fresh, tmp_path / "b").restore(path)
    assert float(lr_scales(fresh)["d_lr_scale"].numpy()) == pytest.approx(0.3)
    assert float(lr_scales(fresh)["g_lr_scale"].numpy()) == 1.0
    expected = 0.3 * float(LinearDecay(cfg.lr_d, cfg.n_iter, updates_per_step=2)(12))
    assert learning_rate(fresh.d_optimizer) == pytest.approx(expected, rel=1e-6)

    # A checkpoint written without scales (before they were saved) restores everything else, scale 1.
    older = tf.train.Checkpoint(model=gan, d_optimizer=gan.d_optimizer, g_optimizer=gan.g_optimizer)
    old_path = older.save(str(tmp_path / "old" / "ckpt"))
    other = build_gan(cfg)
    other_ckpt = RunCheckpointer(other, tmp_path / "c")
    lr_scales(other)["d_lr_scale"].assign(0.7)
    other_ckpt.restore(old_path)
    assert float(lr_scales(other)["d_lr_scale"].numpy()) == 1.0
    for a, b in zip(gan.weights + gan.d_optimizer.variables, other.weights + other.d_optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_checkpoint_callback_never_writes_a_state_holding_a_nan(tmp_path, capfd):
    from dat_tf.train.checkpoints import CheckpointCallback

    gan = build_gan(_cfg(tmp_path / "run"))
    checkpointer = RunCheckpointer(gan, tmp_path / "checkpoints")
    callback = CheckpointCallback(checkpointer, every=1)
    assert callback.save().endswith("ckpt-0")
    kernel = gan.discriminator.trainable_variables[0]
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    gan.g_steps.assign(1)
    assert callback.save() is None
    assert "Checkpoints: generator step 1 is not saved: the model holds a NaN/Inf." in capfd.readouterr().err
    assert checkpointer.latest.endswith("ckpt-0") and not glob.glob(str(tmp_path / "checkpoints" / "ckpt-1*"))
