"""Checkpoints and logs on their own cadence, whatever n_iter is and wherever a run resumes."""

import os

import numpy as np
import pytest
import tensorflow as tf

from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import epoch_plan, train


def _cfg(run_dir, **kw):
    base = dict(dataset="mixture_balanced", net="mlp", width=8, batch_size=16, sample_every=0,
                steps_per_execution=1, verbose=0, log_gradient_norms=False, keep_checkpoints=10, run_dir=str(run_dir))
    base.update(kw)
    return TrainConfig(**base)


def _ckpt_steps(run_dir):
    return sorted(int(n[len("ckpt-"):-len(".index")]) for n in os.listdir(os.path.join(run_dir, "checkpoints"))
                  if n.endswith(".index"))


def _logged_steps(run_dir, tag="d_loss"):
    steps = []
    for name in sorted(os.listdir(os.path.join(run_dir, "logs"))):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(run_dir, "logs", name)):
            steps += [event.step for v in event.summary.value if v.tag == tag]
    return sorted(steps)


@pytest.mark.parametrize("done, until, every", [(0, 1010, 100), (1000, 1010, 100), (1003, 1300, 100), (0, 7, 3),
                                                 (5, 6, 3), (6, 12, 3), (0, 2, 5)])
def test_epoch_plan_ends_epochs_on_multiples_and_at_the_end(done, until, every):
    ends, step = [], done
    while step < until:
        steps, epochs = epoch_plan(done=step, until=until, every=every)
        assert steps >= 1 and epochs >= 1 and step + steps * epochs <= until
        ends += [step + steps * (i + 1) for i in range(epochs)]
        step = ends[-1]
    expected = [m for m in range(done + 1, until + 1) if m % every == 0 or m == until]
    assert ends == expected


def test_a_remainder_does_not_merge_the_epochs(tmp_path):
    # n_iter - done is not a multiple of log_every: checkpoints and TensorBoard points still every 3 steps.
    run = tmp_path / "run"
    gan, history = train(_cfg(run, n_iter=7, log_every=3, checkpoint_every=3))
    assert int(gan.g_steps.numpy()) == 7
    assert len(history["d_loss"]) == 3
    assert _ckpt_steps(run) == [3, 6, 7]
    assert _logged_steps(run) == [3, 6, 7]


def test_a_resume_off_the_cadence_realigns(tmp_path):
    run = tmp_path / "run"
    train(_cfg(run, n_iter=4, log_every=4, checkpoint_every=4))
    gan, _ = train(_cfg(run, n_iter=10, log_every=3, checkpoint_every=3))
    assert int(gan.g_steps.numpy()) == 10
    assert _ckpt_steps(run) == [4, 6, 9, 10]
    assert _logged_steps(run) == [4, 6, 9, 10]


def test_checkpoints_fall_on_every_multiple_of_checkpoint_every_whatever_log_every_is(tmp_path):
    # Epochs end at 50, 100 and 105 (the TensorBoard points); checkpoints at each multiple of 10 and the end, with
    # the default 50 steps per execution shortened to 10 so that an execution ends on each multiple.
    run = tmp_path / "run"
    gan, history = train(_cfg(run, n_iter=105, log_every=50, checkpoint_every=10, steps_per_execution=50,
                              keep_checkpoints=20))
    assert int(gan.g_steps.numpy()) == 105
    assert _ckpt_steps(run) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 105]
    assert _logged_steps(run) == [50, 100, 105] and len(history["d_loss"]) == 3


def test_a_run_stopped_between_checkpoints_resumes_to_the_same_weights(tmp_path):
    cfg = dict(n_iter=30, log_every=24, checkpoint_every=4, steps_per_execution=8, keep_checkpoints=20)
    whole, _ = train(_cfg(tmp_path / "whole", **cfg))  # executions of 4 steps to 24, then of 2
    train(_cfg(tmp_path / "split", **cfg), until=14)  # executions of 2: saves 4, 8, 12 and 14 (the end)
    assert _ckpt_steps(tmp_path / "split") == [4, 8, 12, 14]
    resumed, _ = train(_cfg(tmp_path / "split", **cfg))  # from 14, executions of 2
    assert _ckpt_steps(tmp_path / "split") == [4, 8, 12, 14, 16, 20, 24, 28, 30]
    assert _ckpt_steps(tmp_path / "whole") == [4, 8, 12, 16, 20, 24, 28, 30]
    for a, b in zip(whole.weights, resumed.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
