"""RunDir: reading a real tiny run back (config, checkpoints, models), its config policy, step selection;
bin/eval.py --run_dir and the in-training metrics callback on the same run."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import train
from dat_tf.train.run_dir import RunDir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = TrainConfig(
        dataset="digits", net="dcgan", width=8, latent_dim=8, batch_size=16, n_iter=6, log_every=2,
        checkpoint_every=2, keep_checkpoints=5, metrics_every=4, metrics_num_samples=200, sample_every=0,
        steps_per_execution=1, verbose=0, run_dir=str(tmp_path_factory.mktemp("ev") / "run"),
    )
    gan, _ = train(cfg)
    return cfg, gan


@pytest.fixture
def z():
    return np.random.default_rng(0).normal(size=(3, 8)).astype("float32")


def _out(model, z):
    return model(z, training=False).numpy()


def _copy_config(run, tmp_path, edit):
    """A run folder holding only ``run``'s config.json, passed through ``edit(dict)``."""
    folder = tmp_path / "copy"
    folder.mkdir()
    with open(os.path.join(run, "config.json")) as f:
        saved = json.load(f)
    edit(saved)
    (folder / "config.json").write_text(json.dumps(saved))
    return str(folder)


# ------------------------------------------------------------------ reading a run back


def test_round_trip_of_a_real_run(run, z):
    cfg, gan = run
    rd = RunDir(cfg.run_dir)
    assert rd.config == cfg and rd.defaulted == ()
    assert rd.checkpoint_steps() == [2, 4, 6] and rd.has_checkpoints()
    for path in (rd.exported_gan_path, rd.exported_generator_path, rd.exported_savedmodel_path):
        assert os.path.exists(path), path

    newest, step = rd.load_generator()
    assert step == 6
    np.testing.assert_allclose(_out(newest, z), _out(gan.generator, z), rtol=1e-5, atol=1e-6)
    older, step = rd.load_generator(2)
    assert step == 2 and not np.allclose(_out(older, z), _out(newest, z))

    loaded, step = rd.load_gan()
    assert step == 6 and int(loaded.g_steps.numpy()) == 6
    x = np.random.default_rng(1).uniform(-1, 1, size=(4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(_out(loaded.discriminator, x), _out(gan.discriminator, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.sample(5, seed=3), gan.sample(5, seed=3), rtol=1e-5, atol=1e-6)
    at_4, step = rd.load_gan(4)
    assert step == 4 and int(at_4.g_steps.numpy()) == 4
    by_path, step = rd.load_gan(os.path.join(rd.checkpoint_dir, "ckpt-4"))  # a checkpoint path, e.g. nan_state/
    assert step == 4
    np.testing.assert_array_equal(_out(by_path.generator, z), _out(at_4.generator, z))


def test_a_run_without_checkpoints_reads_its_exports(run, tmp_path, z):
    cfg, gan = run
    copy = str(tmp_path / "moved")
    shutil.copytree(cfg.run_dir, copy)
    shutil.rmtree(os.path.join(copy, "checkpoints"))
    rd = RunDir(copy)
    assert rd.config.run_dir == copy  # the folder read, not where it was trained
    assert rd.checkpoint_steps() == [] and not rd.has_checkpoints()
    generator, step = rd.load_generator()
    assert step is None
    np.testing.assert_allclose(_out(generator, z), _out(gan.generator, z), rtol=1e-5, atol=1e-6)
    loaded, step = rd.load_gan()  # gan.keras
    assert step == 6
    np.testing.assert_allclose(_out(loaded.generator, z), _out(gan.generator, z), rtol=1e-5, atol=1e-6)
    for name in ("gan.keras", "generator.keras"):
        os.remove(os.path.join(copy, name))
    with pytest.raises(FileNotFoundError, match="neither a checkpoint in checkpoints/ nor generator.keras"):
        rd.load_generator()
    with pytest.raises(FileNotFoundError, match="neither a checkpoint in checkpoints/ nor gan.keras"):
        rd.load_gan()


# ------------------------------------------------------------------ step selection


def test_step_selection_errors_list_the_steps(run):
    cfg, _ = run
    rd = RunDir(cfg.run_dir)
    for bad in (3, 8):
        with pytest.raises(FileNotFoundError, match=rf"checkpoint={bad} does not exist: .* has steps \[2, 4, 6\]"):
            rd.load_generator(bad)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint .*nope\.index.* has steps \[2, 4, 6\]"):
        rd.load_gan(os.path.join(cfg.run_dir, "nope"))
    for bad in (-1, True, 2.0, ""):
        with pytest.raises(ValueError, match=r"must be|checkpoint must be"):
            rd.load_gan(bad)


# ------------------------------------------------------------------ config policy


def test_unknown_config_keys_are_an_error_naming_them_and_the_run(run, tmp_path):
    cfg, _ = run
    folder = _copy_config(cfg.run_dir, tmp_path, lambda d: d.update(zeta=1, alpha="x"))
    with pytest.raises(ValueError, match=r"keys this version of dat_tf does not know: \['alpha', 'zeta'\]") as e:
        RunDir(folder)
    assert repr(folder) in str(e.value)


def test_missing_config_keys_take_defaults_and_are_reported(run, tmp_path):
    cfg, _ = run
    folder = _copy_config(cfg.run_dir, tmp_path, lambda d: [d.pop(k) for k in ("sample_kind", "on_nan")])
    with pytest.warns(UserWarning, match=r"lacks the config keys \['on_nan', 'sample_kind'\]"):
        rd = RunDir(folder)
    assert rd.defaulted == ("on_nan", "sample_kind")
    assert rd.config.sample_kind == TrainConfig.sample_kind and rd.config.on_nan == TrainConfig.on_nan
    assert rd.config.latent_dim == 8 and rd.config.net == "dcgan"  # the rest as saved


def test_bad_run_folders(run, tmp_path):
    cfg, _ = run
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        RunDir(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        RunDir(tmp_path)
    folder = _copy_config(cfg.run_dir, tmp_path, lambda d: d.update(n_iter=0))
    with pytest.raises(ValueError, match=r"config.json \(run .*\): Invalid configuration:\n  --n_iter=0"):
        RunDir(folder)
    (tmp_path / "copy" / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        RunDir(folder)
    (tmp_path / "copy" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        RunDir(folder)


# ------------------------------------------------------------------ users of the run


def test_metrics_callback_logs_to_tensorboard(run):
    cfg, _ = run
    acc = event_accumulator.EventAccumulator(os.path.join(cfg.run_dir, "logs"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    for metric in ("fid_train", "fid_test", "kid_train", "kid_test", "is"):
        assert f"metrics/{metric}" in tags
    fid = acc.Tensors("metrics/fid_train")
    assert [e.step for e in fid] == [4]  # every 4 steps, epochs end at 2, 4, 6
    value = float(tf.make_ndarray(fid[0].tensor_proto))
    assert np.isfinite(value) and value > 0


def _eval(args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", "eval.py"), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_eval_cli_with_run_dir(run, tmp_path):
    cfg, _ = run
    proc = _eval([f"--run_dir={cfg.run_dir}", "--step=4", "--num_samples=200", "--seeds=2", f"--cache_dir={tmp_path}",
                  f"--output={tmp_path / 'm.jsonl'}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["metric"] for r in rows] == ["fid_train", "kid_train", "fid_test", "kid_test", "is"]
    assert all(r["generator"] == f"{cfg.run_dir}@4" and len(r["values"]) == 2 for r in rows)
    assert all(np.isfinite(r["mean"]) for r in rows)
    # KID against the 359 test digits is one block: TF-GAN's block std is NaN, written as null (strict JSON).
    assert rows[3]["metric"] == "kid_test" and rows[3]["block_std"] == [None, None]
    assert all(np.isfinite(rows[1]["block_std"]))  # 1438 train digits: two blocks
    assert (tmp_path / "m.jsonl").read_text().splitlines() == [l for l in proc.stdout.splitlines() if l.startswith("{")]

    proc = _eval([f"--run_dir={cfg.run_dir}", "--step=3", "--num_samples=200", f"--cache_dir={tmp_path}"])
    assert proc.returncode == 2 and "checkpoint=3 does not exist" in proc.stderr and "[2, 4, 6]" in proc.stderr
