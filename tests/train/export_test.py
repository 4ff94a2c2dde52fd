"""bin/sample.py on a run's exports and on the run folder; the SavedModel export loads without dat_tf."""

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


def _sample(*args, cwd=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", "sample.py"), *args], capture_output=True,
                          text=True, timeout=180, cwd=cwd)


@pytest.mark.parametrize("source", ["generator_savedmodel", "generator.keras", "run_dir"])
def test_sample_cli_writes_png_and_npz(run_dir, source, tmp_path):
    run, _, _ = run_dir
    out = tmp_path / "samples"
    flag = f"--run_dir={run}" if source == "run_dir" else f"--generator={run}/{source}"
    proc = _sample(flag, "--num=10", "--seed=5", f"--out={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    npz = np.load(str(out) + ".npz")
    assert npz["samples"].shape == (10, 8, 8, 1)
    # The latents bin/sample.py has always drawn: numpy's default_rng(seed), float64 normals cast to float32.
    np.testing.assert_array_equal(npz["z"], np.random.default_rng(5).standard_normal((10, 6)).astype("float32"))
    assert np.abs(npz["samples"]).max() <= 1.0
    assert open(str(out) + ".png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_sample_cli_sources_agree_and_steps_are_checked(run_dir, tmp_path):
    """The run's newest checkpoint (step 2) is the exported generator; an absent step lists the present ones."""
    run, _, _ = run_dir
    for name, flag in (("a", f"--run_dir={run}"), ("b", "--step=2"), ("c", f"--generator={run}/generator.keras")):
        args = [flag] if name != "b" else [f"--run_dir={run}", flag]
        proc = _sample(*args, "--num=7", f"--out={tmp_path / name}")
        assert proc.returncode == 0, proc.stderr[-2000:]
    a, b, c = (np.load(tmp_path / f"{n}.npz")["samples"] for n in "abc")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    proc = _sample(f"--run_dir={run}", "--step=1", f"--out={tmp_path / 'd'}")
    assert proc.returncode == 2 and "checkpoint=1 does not exist" in proc.stderr and "[2]" in proc.stderr


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


def test_sample_cli_default_out_is_never_the_current_folder(run_dir, tmp_path):
    """Without --out: <run_dir>/samples (samples_step<N> with --step), runs/samples for a bare generator."""
    run, _, _ = run_dir
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for args, out in (([f"--run_dir={run}"], os.path.join(run, "samples")),
                      ([f"--run_dir={run}", "--step=2"], os.path.join(run, "samples_step2")),
                      ([f"--generator={run}/generator_savedmodel"], str(cwd / "runs" / "samples"))):
        proc = _sample(*args, "--num=4", cwd=cwd)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert os.path.isfile(out + ".png") and os.path.isfile(out + ".npz"), proc.stdout
        assert f"wrote {os.path.relpath(out, cwd) if out.startswith(str(cwd)) else out}.png" in proc.stdout
    assert os.listdir(cwd) == ["runs"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--generator={tmp}/nope"], "--generator='{tmp}/nope' does not exist"),
        ([], "give exactly one of --generator"),
        (["--generator={tmp}", "--run_dir={tmp}"], "give exactly one of --generator"),
        (["--run_dir={tmp}"], "--run_dir: run_dir='{tmp}' has no config.json"),
        (["--generator={tmp}", "--step=3"], "--step only applies with --run_dir"),
        (["--run_dir={tmp}", "--step=-1"], "--step=-1 is not allowed; expected an integer >= 0"),
        (["--generator={tmp}", "--num=0"], "--num=0 is not allowed"),
        (["--generator={tmp}", "--seed=-1"], "--seed=-1 is not allowed"),
        (["--generator={tmp}/empty.keras"], "--generator='{tmp}/empty.keras' cannot be loaded"),
        (["--generator={tmp}", "--num=lots"], "--num=lots: invalid literal"),
    ],
)
def test_sample_cli_rejects_bad_flags(tmp_path, args, message):
    """Exit code 2 and the problem alone (no usage text, no traceback)."""
    (tmp_path / "empty.keras").write_bytes(b"")
    proc = _sample(*[a.format(tmp=tmp_path) for a in args])
    proc.stderr = proc.stderr.replace("flag --", "--")
    assert proc.returncode == 2 and f"error: {message.format(tmp=tmp_path)}" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "Writes a PNG grid" not in proc.stderr
