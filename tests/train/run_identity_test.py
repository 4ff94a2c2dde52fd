"""A run folder belongs to one run: no silent resume of another config, one process at a time, whole exports."""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from dat_tf.train.config import TrainConfig
from dat_tf.train.export import exports_ok
from dat_tf.train.loop import train
from dat_tf.data.errors import DatasetUnavailableError
from dat_tf.train.run_identity import MAY_CHANGE, RunConfigMismatch, RunLock, RunLockedError, check_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cfg(run_dir, **kw):
    base = dict(dataset="mixture_balanced", net="mlp", width=8, batch_size=16, n_iter=4, log_every=2,
                checkpoint_every=2, sample_every=0, steps_per_execution=1, verbose=0, log_gradient_norms=False,
                run_dir=str(run_dir))
    base.update(kw)
    return TrainConfig(**base)


def test_rerun_with_another_config_is_refused_and_nothing_changes(tmp_path):
    cfg = _cfg(tmp_path / "run", regularizer="dat")
    train(cfg)
    config_before = (tmp_path / "run" / "config.json").read_text()
    ckpts_before = sorted(os.listdir(tmp_path / "run" / "checkpoints"))
    other = _cfg(tmp_path / "run", regularizer="gp", loss="wgan", lr_d=1e-3, n_iter=6)
    with pytest.raises(RunConfigMismatch) as err:
        train(other)
    msg = str(err.value)
    assert "--regularizer: 'dat' in the run, 'gp' now" in msg and "--loss: 'ns' in the run, 'wgan' now" in msg
    assert "--lr_d: 0.0002 in the run, 0.001 now" in msg and "n_iter" not in msg.split("\n")[1]
    assert "another --run_dir" in msg and "--overwrite" in msg
    assert (tmp_path / "run" / "config.json").read_text() == config_before  # never overwritten
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ckpts_before


def test_how_long_and_how_often_may_change_and_are_recorded(tmp_path):
    train(_cfg(tmp_path / "run"))
    config_before = json.loads((tmp_path / "run" / "config.json").read_text())
    gan, history = train(_cfg(tmp_path / "run", n_iter=6, log_every=1, checkpoint_every=1))
    assert int(gan.g_steps.numpy()) == 6 and len(history["d_loss"]) == 2
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == config_before
    (record,) = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert record["changes"] == {"n_iter": {"run": 4, "now": 6}, "log_every": {"run": 2, "now": 1},
                                 "checkpoint_every": {"run": 2, "now": 1}}
    assert set(record["changes"]) <= set(MAY_CHANGE)


def test_overwrite_starts_the_folder_over(tmp_path):
    train(_cfg(tmp_path / "run", regularizer="dat", n_iter=4))
    gan, _ = train(_cfg(tmp_path / "run", regularizer="gp", n_iter=2), overwrite=True)
    assert int(gan.g_steps.numpy()) == 2  # trained from scratch, not resumed from ckpt-4
    assert json.loads((tmp_path / "run" / "config.json").read_text())["regularizer"] == "gp"
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ["checkpoint", "ckpt-2.data-00000-of-00001",
                                                                   "ckpt-2.index"]


def test_a_second_process_is_refused_while_the_first_holds_the_folder(tmp_path):
    run = tmp_path / "run"
    with RunLock(str(run)):
        with pytest.raises(RunLockedError, match=rf"{run} is in use by process {os.getpid()} on "):
            train(_cfg(run))
        assert not (run / "config.json").exists()  # refused before any work
    gan, _ = train(_cfg(run))  # released: the run goes ahead
    assert int(gan.g_steps.numpy()) == 4


def test_the_lock_of_a_dead_process_is_taken_over_and_reported(tmp_path, capsys):
    run = tmp_path / "run"
    # A process that takes the lock and dies without releasing it (os._exit skips every cleanup).
    code = (f"import os, sys; sys.path.insert(0, {ROOT!r}); from dat_tf.train.run_identity import RunLock; "
            f"RunLock({str(run)!r}).__enter__(); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    holder = (run / ".lock").read_text().strip()
    assert holder.startswith("process ")
    with RunLock(str(run)) as lock:
        assert lock.took_over == holder
    assert "took over the lock left by " + holder in capsys.readouterr().err


def test_finished_run_repairs_a_broken_export(tmp_path):
    cfg = _cfg(tmp_path / "run")
    gan, _ = train(cfg)
    expected = gan.generator.get_weights()
    path = tmp_path / "run" / "generator.keras"
    path.write_bytes(path.read_bytes()[:100])  # a crash during the export
    assert not exports_ok(str(tmp_path / "run"))
    again, history = train(cfg)
    assert history == {} and int(again.g_steps.numpy()) == 4
    assert exports_ok(str(tmp_path / "run")) and zipfile.is_zipfile(path)
    loaded = keras.models.load_model(path, compile=False)
    for a, b in zip(loaded.get_weights(), expected):
        np.testing.assert_array_equal(a, b)


def test_a_run_failing_before_it_starts_leaves_nothing_that_refuses_the_corrected_rerun(tmp_path):
    # Issue 11, problem 9: a run that failed at build time (here: no such image folder) left config.json, so the
    # corrected command in the same run_dir was refused as "another configuration".
    run = tmp_path / "run"
    bad = _cfg(run, dataset=f"folder:{tmp_path / 'no_such_folder'}", resolution=8)
    with pytest.raises(DatasetUnavailableError):
        train(bad)
    assert not run.exists(), "a new folder of a run that never started is removed"
    run.mkdir()  # a folder that was there before is kept, without a config
    with pytest.raises(DatasetUnavailableError):
        train(bad)
    assert sorted(os.listdir(run)) == [".lock"]
    gan, _ = train(_cfg(run))
    assert int(gan.g_steps.numpy()) == 4
    assert json.load(open(run / "config.json"))["dataset"] == "mixture_balanced"


def test_claim_run_refuses_a_garbled_config(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunConfigMismatch, match="is not valid JSON"):
        check_run(_cfg(tmp_path))


def test_cli_refusal_is_short_and_exits_3(tmp_path):
    run = tmp_path / "cli"
    args = [sys.executable, os.path.join(ROOT, "bin", "train.py"), "--n_iter=2", "--log_every=1", "--batch_size=16",
            "--width=8", "--sample_every=0", "--verbose=0", f"--run_dir={run}"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    second = subprocess.run(args + ["--lr_d=0.001"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 3
    assert "error: " in second.stderr and "--lr_d: 0.0002 in the run, 0.001 now" in second.stderr
    assert "Traceback" not in second.stderr
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and "already finished at generator step 2" in done.stdout


def test_a_finished_run_repairs_its_exports_without_its_data(tmp_path):
    """The repair reads the newest checkpoint only: the training images may be gone by then."""
    import tensorflow as tf

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        tf.io.write_file(str(images / f"{i}.png"), tf.io.encode_png(rng.integers(0, 255, (8, 8, 1), dtype=np.uint8)))
    cfg = _cfg(tmp_path / "run", dataset=f"folder:{images}", resolution=8, batch_size=4)
    train(cfg)
    for name in os.listdir(images):
        os.remove(images / name)
    os.rmdir(images)
    (tmp_path / "run" / "generator.keras").write_bytes(b"broken")
    again, history = train(cfg)
    assert history == {} and int(again.g_steps.numpy()) == 4
    assert exports_ok(str(tmp_path / "run"))


def test_config_json_holds_every_regularizer_default_so_a_changed_default_is_a_changed_run(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path / "run", regularizer="rfm", n_iter=2)
    train(cfg)
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stored["reg_args"] == {"weight": 10.0, "epsilon": 1e-4, "reduction": "batch"}
    # A later version changes a default: the rerun is refused, naming the field, instead of resuming another run.
    from dat_tf.regularizers.adversarial import RobustRegularizer
    from dat_tf.train import config as config_module

    fields = {f.name: f for f in __import__("dataclasses").fields(RobustRegularizer)}
    monkeypatch.setattr(fields["reduction"], "default", "mean")
    with pytest.raises(RunConfigMismatch, match="--reg_args"):
        train(_cfg(tmp_path / "run", regularizer="rfm", n_iter=4))
    # A run folder from before (only the given arguments stored) reads the missing ones as today's defaults.
    assert config_module.upgrade_dict({"regularizer": "rfm", "reg_args": {"weight": 3.0}})["reg_args"] == {
        "weight": 3.0, "epsilon": 1e-4, "reduction": "mean"}


def test_a_dat_run_resumes_its_stored_config_with_tuple_defaults(tmp_path):
    """DAT's clip_range default is a tuple, stored as a JSON list: the same value, so a rerun continues."""
    cfg = _cfg(tmp_path / "run", regularizer="dat", n_iter=2)
    train(cfg)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["reg_args"]["clip_range"] == [-1.0, 1.0]
    gan, _ = train(_cfg(tmp_path / "run", regularizer="dat", n_iter=4))
    assert int(gan.g_steps.numpy()) == 4
