"""TensorBoard itself serves a run's scalars and sample grid over HTTP (127.0.0.1 only)."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import train


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


@pytest.mark.slow
def test_tensorboard_serves_scalars_and_samples(tmp_path):
    cfg = TrainConfig(
        dataset="digits", net="dcgan", regularizer="dat", n_iter=4, log_every=2, sample_every=2, batch_size=8,
        width=8, steps_per_execution=1, verbose=0, run_dir=str(tmp_path / "run"),
    )
    train(cfg)
    exe = shutil.which("tensorboard")
    cmd = [exe] if exe else [sys.executable, "-m", "tensorboard.main"]
    port = _free_port()
    proc = subprocess.Popen(
        cmd + ["--logdir", cfg.run_dir, "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        tags = None
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"tensorboard exited with {proc.returncode}")
            try:
                tags = json.loads(_get(f"{base}/data/plugin/scalars/tags"))
                if tags and any(tags.values()):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert tags, "tensorboard did not answer within 60 s"
        run = next(iter(tags))
        for tag in ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_real", "perturbation_norm", "lr_d"):
            assert tag in tags[run], f"{tag} missing from {sorted(tags[run])}"
        points = json.loads(_get(f"{base}/data/plugin/scalars/scalars?run={run}&tag=d_loss"))
        assert [p[1] for p in points] == [2, 4]  # logged against the generator step
        images = json.loads(_get(f"{base}/data/plugin/images/tags"))
        assert "samples" in images[run]
        listing = json.loads(_get(f"{base}/data/plugin/images/images?run={run}&tag=samples"))
        blob = _get(f"{base}/data/plugin/images/individualImage?{listing[-1]['query']}")
        assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode is not None
