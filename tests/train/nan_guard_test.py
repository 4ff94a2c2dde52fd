"""NaNGuard: a NaN/Inf stops the run with the last finite state saved, or rolls back and lowers the LRs."""

import hashlib
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.train.checkpoints import RunCheckpointer, state_variables
from dat_tf.train.config import TrainConfig
from dat_tf.train.nan_guard import NaNGuard, NonFiniteLossError
from dat_tf.train.schedules import ScaledSchedule, learning_rate
from dat_tf.train.schedules import LinearDecay
from dat_tf.train.loop import build_dataset, build_gan, train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cfg(run_dir, **kw):
    base = dict(
        dataset="digits", net="dcgan", n_iter=10, log_every=2, checkpoint_every=2, keep_checkpoints=3,
        batch_size=16, width=8, steps_per_execution=1, verbose=0, sample_every=0, log_gradient_norms=False, run_dir=str(run_dir),
    )
    base.update(kw)
    return TrainConfig(**base)


def _poisoned(cfg, first, last=None):
    """``cfg``'s data stream with NaN batches at indices ``first..last`` (inclusive; ``last=None``: one batch)."""
    last = first if last is None else last

    def poison(i, x):
        bad = tf.logical_and(i >= first, i <= last)
        return tf.where(bad, tf.fill(tf.shape(x), float("nan")), x)

    return build_dataset(cfg).enumerate().map(poison)


def _state(gan):
    return [keras.ops.convert_to_numpy(v) for v in state_variables(gan)]


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_stop_saves_last_finite_state_reports_and_keeps_exports(tmp_path):
    cfg = _cfg(tmp_path / "run", n_iter=4)
    train(cfg)  # a good run with exports at step 4
    run = cfg.run_dir
    exports = {name: _sha(os.path.join(run, name)) for name in ("gan.keras", "generator.keras")}
    saved_model = _sha(os.path.join(run, "generator_savedmodel", "saved_model.pb"))

    # Continue it to 10 on a stream whose 4th batch is NaN: steps 5, 6 (ckpt-6), 7 are fine, step 8 is not.
    longer = _cfg(tmp_path / "run", n_iter=10)
    with pytest.raises(NonFiniteLossError) as err:
        train(longer, dataset=_poisoned(longer, 3))
    state_path = os.path.join(run, "nan_state", "ckpt-7")
    report_path = os.path.join(run, "nan_report.json")
    assert str(err.value) == (
        f"NaN/Inf in d_loss, g_loss at generator step 8; last finite state (generator step 7) saved to "
        f"{state_path}; report {report_path}"
    )
    assert err.value.step == 8 and err.value.state_path == state_path

    report = json.load(open(report_path))
    assert report["action"] == "stopped" and report["policy"] == "stop"
    assert report["generator_step"] == 8 and report["non_finite"] == ["d_loss", "g_loss"]
    assert report["logs"]["d_loss"] == "nan"
    assert report["last_finite_step"] == 7 and report["nan_state"] == state_path
    assert np.isfinite(report["last_finite_logs"]["d_loss"]) and np.isfinite(report["last_finite_logs"]["g_loss"])
    assert report["message"] == str(err.value)

    # The NaN model went nowhere: exports untouched, no checkpoint past 6, the resume chain ends at a finite ckpt-6.
    assert {name: _sha(os.path.join(run, name)) for name in exports} == exports
    assert _sha(os.path.join(run, "generator_savedmodel", "saved_model.pb")) == saved_model
    chain = RunCheckpointer(build_gan(longer), os.path.join(run, "checkpoints"))
    assert chain.latest.endswith("ckpt-6")

    # The saved state loads, is finite, and equals the state after step 7: ckpt-6 plus the 3rd batch.
    nan_state = build_gan(longer)
    assert RunCheckpointer(nan_state, tmp_path / "unused").restore(state_path) == 7
    got = _state(nan_state)
    assert all(np.isfinite(v).all() for v in got if v.dtype.kind == "f")
    reference = build_gan(longer)
    RunCheckpointer(reference, tmp_path / "unused").restore(os.path.join(run, "checkpoints", "ckpt-6"))
    reference.fit(_poisoned(longer, 3).skip(2), steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    assert int(reference.g_steps.numpy()) == 7
    for a, b in zip(got, _state(reference)):
        np.testing.assert_array_equal(a, b)


def test_granularity_is_one_execution(tmp_path):
    cfg = _cfg(tmp_path / "run", n_iter=8, log_every=4, steps_per_execution=2)
    with pytest.raises(NonFiniteLossError, match=re.escape(
        "NaN/Inf in d_loss, g_loss at generator step 6 (checked every 2 steps: it arose in steps 5..6); "
        "last finite state (generator step 4) saved to"
    )):
        train(cfg, dataset=_poisoned(cfg, 4))  # batch 4 is step 5, in the execution of steps 5-6
    report = json.load(open(os.path.join(cfg.run_dir, "nan_report.json")))
    assert report["steps_per_execution"] == 2 and report["last_finite_step"] == 4


def test_finite_losses_with_nonfinite_weights_count_and_are_never_saved(tmp_path):
    cfg = _cfg(tmp_path / "run")
    gan = build_gan(cfg)
    checkpointer = RunCheckpointer(gan, tmp_path / "run" / "checkpoints")
    kernel = gan.discriminator.trainable_variables[0]

    class Poison(keras.callbacks.Callback):  # an update that overflowed: the step's losses are still finite
        def on_train_batch_end(self, batch, logs=None):
            if int(gan.g_steps.numpy()) == 3:
                kernel.assign(np.full(kernel.shape, np.inf, np.float32))

    guard = NaNGuard(checkpointer, cfg.run_dir)
    expected = r"NaN/Inf in weights at generator step 3; last finite state \(generator step 2\)"
    with pytest.raises(NonFiniteLossError, match=expected):
        gan.fit(build_dataset(cfg), steps_per_epoch=6, epochs=1, verbose=0, callbacks=[Poison(), guard])
    saved = build_gan(cfg)
    RunCheckpointer(saved, tmp_path / "unused").restore(os.path.join(cfg.run_dir, "nan_state", "ckpt-2"))
    assert all(np.isfinite(v).all() for v in _state(saved) if v.dtype.kind == "f")
    assert np.isfinite(kernel.numpy()).all(), "the live model is put back to the last finite state"


def test_restore_policy_rolls_back_scales_float_lr_and_finishes(tmp_path, capfd):
    cfg = _cfg(tmp_path / "run", on_nan="restore", lr_d=1e-3, lr_g=1e-3, keep_checkpoints=5)
    # Batch 5 (step 6) is NaN: back to ckpt-4, both rates halved, and on; fit's 10 steps end at step 8.
    gan, history = train(cfg, dataset=_poisoned(cfg, 5))
    err = capfd.readouterr().err
    assert "NaN/Inf in d_loss, g_loss at generator step 6; resumed from" in err and "ckpt-4 (generator step 4)" in err
    assert "lr_d 0.001 -> 0.0005, lr_g 0.001 -> 0.0005 (restore 1 of at most 3)" in err
    assert "stopped at generator step 8, short of 10" in err
    assert int(gan.g_steps.numpy()) == 8
    assert learning_rate(gan.d_optimizer) == pytest.approx(5e-4, rel=1e-6)
    assert learning_rate(gan.g_optimizer) == pytest.approx(5e-4, rel=1e-6)
    assert all(np.isfinite(v).all() for v in _state(gan) if v.dtype.kind == "f")
    report = json.load(open(os.path.join(cfg.run_dir, "nan_report.json")))
    assert report["action"] == "restored"
    [event] = report["events"]
    assert event["generator_step"] == 6 and event["restored_step"] == 4
    assert event["learning_rates"] == {"lr_d": pytest.approx(5e-4), "lr_g": pytest.approx(5e-4)}
    # The run exported its finite model, and the halved rate is in the checkpoints written after the restore.
    exported = keras.models.load_model(os.path.join(cfg.run_dir, "gan.keras"))
    assert int(exported.g_steps.numpy()) == 8
    later = build_gan(cfg)
    RunCheckpointer(later, tmp_path / "unused").restore(os.path.join(cfg.run_dir, "checkpoints", "ckpt-8"))
    assert learning_rate(later.d_optimizer) == pytest.approx(5e-4, rel=1e-6)


def test_restore_policy_scales_a_schedule_and_retraces(tmp_path):
    cfg = _cfg(tmp_path / "run", on_nan="restore", lr_decay="linear", nan_lr_factor=1e-6, keep_checkpoints=5)
    gan, _ = train(cfg, dataset=_poisoned(cfg, 5))
    assert int(gan.g_steps.numpy()) == 8
    config = gan.d_optimizer.get_config()["learning_rate"]
    assert config["class_name"] == "ScaledSchedule" and config["config"]["factor"] == pytest.approx(1e-6)
    iterations = int(gan.d_optimizer.iterations.numpy())
    expected = 1e-6 * float(LinearDecay(cfg.lr_d, cfg.n_iter, updates_per_step=cfg.n_dis)(iterations))
    assert learning_rate(gan.d_optimizer) == pytest.approx(expected, rel=1e-5)
    # The 4 steps after the restore to ckpt-4 ran with rates ~1e-10: the weights barely moved (at the
    # unscaled ~1e-4 they would move ~1e-4 per step, so this fails if the train function was not retraced).
    at_restore = build_gan(cfg)
    RunCheckpointer(at_restore, tmp_path / "unused").restore(os.path.join(cfg.run_dir, "checkpoints", "ckpt-4"))
    for a, b in zip(gan.trainable_variables, at_restore.trainable_variables):
        assert np.max(np.abs(a.numpy() - b.numpy())) < 1e-7
    # gan.keras keeps the scaled schedule.
    reloaded = keras.models.load_model(os.path.join(cfg.run_dir, "gan.keras"))
    assert reloaded.d_optimizer.get_config()["learning_rate"]["class_name"] == "ScaledSchedule"


def test_restore_policy_gives_up_after_max_restores(tmp_path):
    # The 2D mixture MLP with lr_d=1e30 overflows within a few steps, every time. The step at which a
    # float overflows differs between machines, so the step is read from the message, not pinned.
    cfg = _cfg(tmp_path / "run", dataset="mixture_balanced", net="mlp", on_nan="restore", lr_d=1e30, n_iter=10)
    with pytest.raises(NonFiniteLossError) as err:
        train(cfg)
    m = re.match(r"^after 3 restore\(s\), NaN/Inf in (?:d_loss|g_loss|d_loss, g_loss|weights) at generator step "
                 r"(\d+); last finite state \(generator step (\d+)\) saved to ", str(err.value))
    assert m, str(err.value)
    step, last = int(m.group(1)), int(m.group(2))
    assert step >= 1 and last == step - 1  # steps_per_execution=1: the state one step before the NaN
    report = json.load(open(os.path.join(cfg.run_dir, "nan_report.json")))
    assert [e["action"] for e in report["events"]] == ["restored"] * 3 + ["stopped"]
    # No checkpoint existed yet: each restore went back to the starting state; the rates halve each time.
    assert all("start of training (generator step 0)" in e["message"] for e in report["events"][:3])
    assert [e["learning_rates"]["lr_g"] for e in report["events"][:3]] == pytest.approx([1e-4, 5e-5, 2.5e-5])
    assert not os.path.exists(os.path.join(cfg.run_dir, "gan.keras"))


def test_cli_exits_nonzero_with_the_message(tmp_path):
    # --lr_d=1e30 overflows D within a few steps (the exact step depends on the machine's floats).
    run = tmp_path / "cli"
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bin", "train.py"), "--lr_d=1e30", "--n_iter=6", "--log_every=2",
         "--batch_size=16", "--width=8", "--steps_per_execution=1", "--sample_every=0", "--verbose=0",
         f"--run_dir={run}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert out.returncode != 0
    m = re.search(r"error: NaN/Inf in (?:d_loss|g_loss|d_loss, g_loss|weights) at generator step (\d+); "
                  r"last finite state \(generator step (\d+)\) saved to (\S+); report (\S+)$", out.stderr, re.M)
    assert m, out.stderr[-3000:]  # bin/train.py prints the message (no traceback) and exits 1
    step, last = int(m.group(1)), int(m.group(2))
    assert 1 <= step <= 6 and last == step - 1
    assert m.group(3) == f"{run}/nan_state/ckpt-{last}" and m.group(4) == f"{run}/nan_report.json"
    assert os.path.exists(m.group(3) + ".index")  # the last finite state is on disk
    assert "Traceback" not in out.stderr
    assert "finished" not in out.stdout
    assert not os.path.exists(run / "gan.keras")
    assert json.load(open(run / "nan_report.json"))["generator_step"] == step


def test_scaled_schedule_and_scale_learning_rate():
    from dat_tf.train.schedules import scale_learning_rate

    inner = LinearDecay(1e-3, 100)
    s = ScaledSchedule(inner, 0.5)
    assert float(s(50)) == pytest.approx(0.5 * 5e-4)
    back = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    assert isinstance(back, ScaledSchedule) and float(back(50)) == pytest.approx(2.5e-4)
    opt = keras.optimizers.Adam(inner)
    assert scale_learning_rate(opt, 0.5) is True and scale_learning_rate(opt, 0.5) is True
    assert learning_rate(opt) == pytest.approx(0.25e-3)  # factors multiply, not nest
    plain = keras.optimizers.Adam(1e-3)
    assert scale_learning_rate(plain, 0.1) is False and learning_rate(plain) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="factor"):
        ScaledSchedule(inner, 0)


def test_guard_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="policy"):
        NaNGuard(None, tmp_path, policy="ignore")
    with pytest.raises(ValueError, match="lr_factor"):
        NaNGuard(None, tmp_path, policy="restore", lr_factor=2.0)
