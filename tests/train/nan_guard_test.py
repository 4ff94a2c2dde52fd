"""NaNGuard: a NaN/Inf stops the run with the last finite state saved, or rolls back, lowers the LRs and
finishes the run on the same data, with the scaled rates saved."""

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

from dat_tf.train.checkpoints import CheckpointCallback, RunCheckpointer, state_variables
from dat_tf.train.config import TrainConfig
from dat_tf.train.nan_guard import NaNGuard, NonFiniteLossError, RolledBack
from dat_tf.train.schedules import learning_rate, scale_learning_rate
from dat_tf.train import loop
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
    # log_every=1: an epoch end, so a snapshot of the state, after every step.
    longer = _cfg(tmp_path / "run", n_iter=10, log_every=1)
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


def test_last_finite_state_is_the_newest_epoch_end(tmp_path):
    # Losses are checked after every step; the state is snapshotted at epoch ends (every log_every=3 steps).
    cfg = _cfg(tmp_path / "run", n_iter=9, log_every=3, checkpoint_every=0)
    with pytest.raises(NonFiniteLossError, match=re.escape(
        "NaN/Inf in d_loss, g_loss at generator step 5; last finite state (generator step 3) saved to"
    )):
        train(cfg, dataset=_poisoned(cfg, 4))
    report = json.load(open(os.path.join(cfg.run_dir, "nan_report.json")))
    assert report["last_finite_step"] == 3 and report["nan_state"].endswith("ckpt-3")
    saved = build_gan(cfg)
    assert RunCheckpointer(saved, tmp_path / "unused").restore(report["nan_state"]) == 3


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
    with pytest.raises(NonFiniteLossError, match=expected):  # found by the snapshot at the epoch end of step 3
        gan.fit(build_dataset(cfg), steps_per_epoch=1, epochs=6, verbose=0,
                callbacks=[Poison(), guard, CheckpointCallback(checkpointer, 1)])
    assert checkpointer.latest.endswith("ckpt-2")  # the guard acts before the checkpoint of step 3 is written
    saved = build_gan(cfg)
    RunCheckpointer(saved, tmp_path / "unused").restore(os.path.join(cfg.run_dir, "nan_state", "ckpt-2"))
    assert all(np.isfinite(v).all() for v in _state(saved) if v.dtype.kind == "f")
    assert np.isfinite(kernel.numpy()).all(), "the live model is put back to the last finite state"


def _poisoned_once(index):
    """A ``build_dataset`` whose streams have batch ``index`` NaN only the first time any of them yields it (a
    transient fault)."""
    seen = set()

    def first_time(i):
        i = int(i)
        first = i == index and i not in seen
        seen.add(i)
        return first

    def poison(i, x):
        bad = tf.py_function(first_time, [i], tf.bool)
        bad.set_shape([])
        return tf.where(bad, tf.fill(tf.shape(x), float("nan")), x)

    return lambda cfg: build_dataset(cfg).enumerate().map(poison)


def _scale_in_checkpoint(path, role):
    names = dict(tf.train.list_variables(path))
    assert f"{role}_lr_scale/.ATTRIBUTES/VARIABLE_VALUE" in names, sorted(names)
    return float(tf.train.load_checkpoint(path).get_tensor(f"{role}_lr_scale/.ATTRIBUTES/VARIABLE_VALUE"))


class _LearningRatesAtStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.rates = (learning_rate(self.model.d_optimizer), learning_rate(self.model.g_optimizer))
        self.step = int(self.model.g_steps.numpy())


@pytest.mark.parametrize("lr_decay", ["none", "linear"])
def test_restore_reaches_n_iter_on_the_same_data_with_the_scaled_rate_saved(tmp_path, monkeypatch, lr_decay):
    factor = 0.25
    cfg = _cfg(tmp_path / "run", on_nan="restore", lr_d=1e-3, lr_g=2e-3, n_dis=2, nan_lr_factor=factor,
               keep_checkpoints=5, lr_decay=lr_decay)

    def closed_form(base, step, k):  # the rate at generator step `step` after k restores
        return base * factor ** k * (1 - step / cfg.n_iter if lr_decay == "linear" else 1.0)

    # Batch 5 (step 6) is NaN once: back to ckpt-4, both rates x0.25, and fit runs again from step 4 to step 8.
    with monkeypatch.context() as patch:  # train() builds the stream, and builds it again after the restore
        patch.setattr(loop, "build_dataset", _poisoned_once(5))
        gan, history = train(cfg, until=8)
    assert int(gan.g_steps.numpy()) == 8
    report = json.load(open(os.path.join(cfg.run_dir, "nan_report.json")))
    [event] = report["events"]
    assert report["action"] == "restored" and event["generator_step"] == 6 and event["restored_step"] == 4
    assert "ckpt-4 (generator step 4)" in event["message"] and "(restore 1 of at most 3)" in event["message"]
    assert event["learning_rates"] == {"lr_d": pytest.approx(closed_form(1e-3, 4, 1), rel=1e-6),
                                       "lr_g": pytest.approx(closed_form(2e-3, 4, 1), rel=1e-6)}
    assert learning_rate(gan.d_optimizer) == pytest.approx(closed_form(1e-3, 8, 1), rel=1e-6)
    assert learning_rate(gan.g_optimizer) == pytest.approx(closed_form(2e-3, 8, 1), rel=1e-6)
    assert len(history["d_loss"]) == 2 + 2  # epochs ending at steps 2, 4 (then 6 rolled back), 6, 8

    # Same data, scaled rate: equal to ckpt-4 trained on steps 5..8 of the clean stream at the scaled rates.
    reference = build_gan(cfg)
    ref_ckpt = RunCheckpointer(reference, tmp_path / "unused")
    ref_ckpt.restore(os.path.join(cfg.run_dir, "checkpoints", "ckpt-4"))
    for opt in (reference.d_optimizer, reference.g_optimizer):
        scale_learning_rate(opt, factor)
    reference.fit(build_dataset(cfg).skip(4), steps_per_epoch=4, epochs=1, verbose=0, shuffle=False)
    assert int(reference.g_steps.numpy()) == 8
    for a, b in zip(_state(gan), _state(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    # The scale is state: in the checkpoint (a schedule's scale variable, or the float rate itself) and gan.keras.
    ckpt8 = os.path.join(cfg.run_dir, "checkpoints", "ckpt-8")
    if lr_decay == "linear":
        assert _scale_in_checkpoint(ckpt8, "d") == pytest.approx(factor)
        assert _scale_in_checkpoint(ckpt8, "g") == pytest.approx(factor)
        assert _scale_in_checkpoint(os.path.join(cfg.run_dir, "checkpoints", "ckpt-4"), "d") == 1.0
    exported = keras.models.load_model(os.path.join(cfg.run_dir, "gan.keras"))
    assert int(exported.g_steps.numpy()) == 8
    assert learning_rate(exported.d_optimizer) == pytest.approx(closed_form(1e-3, 8, 1), rel=1e-6)

    # A fresh train(cfg) on the run_dir (a new model, as a new process builds it) resumes at ckpt-8 with the
    # scaled rates and trains to n_iter.
    probe = _LearningRatesAtStart()
    resumed, _ = train(cfg, callbacks=[probe])
    assert probe.step == 8 and int(resumed.g_steps.numpy()) == cfg.n_iter
    assert probe.rates == (pytest.approx(closed_form(1e-3, 8, 1), rel=1e-6),
                           pytest.approx(closed_form(2e-3, 8, 1), rel=1e-6))
    assert learning_rate(resumed.g_optimizer) == pytest.approx(closed_form(2e-3, cfg.n_iter, 1), rel=1e-6, abs=1e-12)


def test_restore_lowers_a_diverging_rate_and_finishes(tmp_path):
    # lr_d=1e30 overflows within a few steps; one restore with factor 1e-33 makes it 1e-3, which trains.
    # checkpoint_every=0: no checkpoint before the end, so the restore goes back to the starting state.
    # The overflow step depends on the machine's floats: read it from the report.
    cfg = _cfg(tmp_path / "run", dataset="mixture_balanced", net="mlp", on_nan="restore", lr_d=1e30, lr_g=1e-4,
               nan_lr_factor=1e-33, checkpoint_every=0, n_iter=10)
    gan, _ = train(cfg)
    assert int(gan.g_steps.numpy()) == 10
    [event] = json.load(open(os.path.join(cfg.run_dir, "nan_report.json")))["events"]
    assert event["action"] == "restored" and event["restored_step"] == 0 and 1 <= event["generator_step"] <= 10
    assert learning_rate(gan.d_optimizer) == pytest.approx(1e-3, rel=1e-5)
    assert learning_rate(gan.g_optimizer) == pytest.approx(1e-37, rel=1e-5)
    assert all(np.isfinite(v).all() for v in _state(gan) if v.dtype.kind == "f")
    # The float rate is an optimizer variable: the final checkpoint holds it.
    later = build_gan(cfg)
    RunCheckpointer(later, tmp_path / "unused").restore(os.path.join(cfg.run_dir, "checkpoints", "ckpt-10"))
    assert learning_rate(later.d_optimizer) == pytest.approx(1e-3, rel=1e-5)


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
    report = json.load(open(os.path.join(cfg.run_dir, "nan_report.json")))
    assert 0 <= last < step and report["last_finite_step"] == last and report["generator_step"] == step
    assert [e["action"] for e in report["events"]] == ["restored"] * 3 + ["stopped"]
    # Each restore went back to a step before its NaN; the rates halve each time.
    assert all(e["restored_step"] < e["generator_step"] for e in report["events"][:3])
    assert [e["learning_rates"]["lr_g"] for e in report["events"][:3]] == pytest.approx([1e-4, 5e-5, 2.5e-5])
    assert not os.path.exists(os.path.join(cfg.run_dir, "gan.keras"))


def test_fit_without_train_gets_rolled_back(tmp_path):
    # Used directly in fit, a restore ends the fit with RolledBack (fit cannot rewind its data iterator).
    cfg = _cfg(tmp_path / "run", lr_d=1e-3, lr_g=1e-3)
    gan = build_gan(cfg)
    guard = NaNGuard(RunCheckpointer(gan, tmp_path / "run" / "checkpoints"), cfg.run_dir, policy="restore")
    with pytest.raises(RolledBack) as err:
        gan.fit(_poisoned(cfg, 2), steps_per_epoch=6, epochs=1, verbose=0, callbacks=[guard])
    assert err.value.step == 0 and int(gan.g_steps.numpy()) == 0
    assert "NaN/Inf in d_loss, g_loss at generator step 3; back to the state at the start of this fit" in str(err.value)
    assert learning_rate(gan.d_optimizer) == pytest.approx(5e-4, rel=1e-6)


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
    assert 1 <= step <= 6 and 0 <= last < step and last % 2 == 0  # the newest epoch end (log_every=2) before it
    assert m.group(3) == f"{run}/nan_state/ckpt-{last}" and m.group(4) == f"{run}/nan_report.json"
    assert os.path.exists(m.group(3) + ".index")  # the last finite state is on disk
    assert "Traceback" not in out.stderr
    assert out.stderr.count("NaN/Inf in") == 1, out.stderr  # printed once (issue 11: it was printed twice)
    assert "finished" not in out.stdout
    assert not os.path.exists(run / "gan.keras")
    assert json.load(open(run / "nan_report.json"))["generator_step"] == step


def test_guard_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="policy"):
        NaNGuard(None, tmp_path, policy="ignore")
    with pytest.raises(ValueError, match="lr_factor"):
        NaNGuard(None, tmp_path, policy="restore", lr_factor=2.0)
