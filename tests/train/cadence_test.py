"""Checkpoints and logs on their own cadence, whatever n_iter is and wherever a run resumes."""

import os

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
