"""Checkpoints: an interrupted and resumed run equals an uninterrupted one."""

import glob
import os

import numpy as np
import pytest

from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import train


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
