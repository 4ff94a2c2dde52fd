"""Run-level evaluation: loading a run at a step, bin/eval.py --run_dir, the in-training metrics callback."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from dat_tf.train.config import TrainConfig
from dat_tf.train.run_dir import available_steps, load_run_generator
from dat_tf.train.loop import train

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


def test_load_run_generator_at_each_step(run):
    cfg, gan = run
    assert available_steps(cfg.run_dir) == [2, 4, 6]
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    newest, _, step = load_run_generator(cfg.run_dir)
    assert step == 6
    np.testing.assert_allclose(newest(z, training=False).numpy(), gan.generator(z, training=False).numpy(), rtol=1e-5, atol=1e-6)
    older, _, _ = load_run_generator(cfg.run_dir, 2)
    assert not np.allclose(older(z, training=False).numpy(), newest(z, training=False).numpy())
    with pytest.raises(ValueError, match=r"--step=3 has no checkpoint .* available steps: \[2, 4, 6\]"):
        load_run_generator(cfg.run_dir, 3)


def test_metrics_callback_logs_to_tensorboard(run):
    cfg, _ = run
    acc = event_accumulator.EventAccumulator(os.path.join(cfg.run_dir, "logs"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    for metric in ("fid_train", "fid_test", "kid_train", "kid_test", "is"):
        assert f"metrics/{metric}" in tags
    fid = acc.Tensors("metrics/fid_train")
    assert [e.step for e in fid] == [4]
    value = float(tf.make_ndarray(fid[0].tensor_proto))
    assert np.isfinite(value) and value > 0


def test_eval_cli_with_run_dir(run, tmp_path):
    cfg, _ = run
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bin", "eval.py"), f"--run_dir={cfg.run_dir}", "--step=4",
         "--num_samples=200", "--seeds=2", f"--cache_dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["metric"] for r in rows] == ["fid_train", "kid_train", "fid_test", "kid_test", "is"]
    assert all(r["generator"] == f"{cfg.run_dir}@4" and len(r["values"]) == 2 for r in rows)
    assert all(np.isfinite(r["mean"]) for r in rows)
