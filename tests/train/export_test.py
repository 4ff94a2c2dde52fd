"""bin/sample.py on a run's exports; the SavedModel export loads without dat_tf."""

import os
import subprocess
import sys

import numpy as np
import pytest

from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    cfg = TrainConfig(
        dataset="digits", net="dcgan", n_iter=2, log_every=2, width=8, batch_size=8, latent_dim=6,
        steps_per_execution=1, verbose=0, sample_every=0, run_dir=str(tmp_path_factory.mktemp("s") / "run"),
    )
    gan, _ = train(cfg)
    z = np.random.default_rng(0).standard_normal((5, 6)).astype("float32")
    return cfg.run_dir, z, gan.generator(z, training=False).numpy()


@pytest.mark.parametrize("export", ["generator_savedmodel", "generator.keras"])
def test_sample_cli_writes_png_and_npz(run_dir, export, tmp_path):
    run, _, _ = run_dir
    out = tmp_path / "samples"
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bin", "sample.py"), f"--generator={run}/{export}", "--num=10",
         f"--out={out}"], capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    npz = np.load(str(out) + ".npz")
    assert npz["samples"].shape == (10, 8, 8, 1) and npz["z"].shape == (10, 6)
    assert np.abs(npz["samples"]).max() <= 1.0
    assert open(str(out) + ".png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_savedmodel_loads_without_dat_tf(run_dir, tmp_path):
    run, z, expected = run_dir
    np.save(tmp_path / "z.npy", z)
    code = (
        "import sys; sys.modules['dat_tf'] = None\n"  # any import of dat_tf would now fail
        "import numpy as np, tensorflow as tf\n"
        f"m = tf.saved_model.load({os.path.join(run, 'generator_savedmodel')!r})\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, m.serve(tf.constant(np.load({str(tmp_path / 'z.npy')!r}))).numpy())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-5, atol=1e-6)


def test_sample_cli_rejects_missing_generator(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bin", "sample.py"), f"--generator={tmp_path}/nope"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0 and f"--generator='{tmp_path}/nope' does not exist" in proc.stderr
