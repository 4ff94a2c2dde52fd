"""The training driver and bin/train.py, end to end on tiny runs."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator

from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import build_gan, train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCALARS = {
    "d_loss", "g_loss", "d_real", "d_fake", "reg", "grad_norm_real", "grad_norm_fake", "grad_norm_interp",
    "perturbation_norm", "lipschitz_sn_product",
}


def _tiny(tmp_path, **kw):
    base = dict(
        n_iter=20, log_every=10, sample_every=10, batch_size=16, width=8, steps_per_execution=5, verbose=0,
        run_dir=str(tmp_path / "run"),
    )
    base.update(kw)
    return TrainConfig(**base)


def _events(log_dir):
    acc = event_accumulator.EventAccumulator(log_dir, size_guidance={event_accumulator.IMAGES: 0, event_accumulator.SCALARS: 0})
    acc.Reload()
    return acc


@pytest.mark.parametrize(
    "kw",
    [
        dict(dataset="mixture_balanced", regularizer="dat"),
        dict(dataset="digits", net="dcgan", regularizer="datt", n_dis=2, loss="hinge", d_spectral_norm=True),
        dict(dataset="digits", net="mlp", regularizer="gp", loss="wgan"),
    ],
)
def test_train_writes_run_dir_and_tensorboard(tmp_path, kw):
    cfg = _tiny(tmp_path, **kw)
    gan, history = train(cfg)
    assert int(gan.g_steps.numpy()) == 20
    assert all(np.isfinite(v[-1]) for v in history.values())
    run = cfg.run_dir
    assert json.load(open(os.path.join(run, "config.json")))["regularizer"] == cfg.regularizer
    reloaded = keras.models.load_model(os.path.join(run, "gan.keras"))
    z = np.random.default_rng(0).normal(size=(4, cfg.latent_dim)).astype("float32")
    np.testing.assert_allclose(reloaded.generator(z).numpy(), gan.generator(z).numpy(), rtol=1e-6)
    # TensorBoard's own reader finds every scalar against the generator step, and the sample picture.
    acc = _events(os.path.join(run, "logs"))
    tags = acc.Tags()
    assert SCALARS | {"lr_d", "lr_g"} <= set(tags["tensors"]) | set(tags["scalars"])
    steps = [e.step for e in acc.Tensors("d_loss")]
    assert steps == [10, 20]
    assert "samples" in tags["tensors"] or "samples" in tags["images"]
    img = acc.Tensors("samples")[0]
    # An image summary stores [width, height, png...]; the PNG decodes to a real picture.
    width, height = (int(v) for v in img.tensor_proto.string_val[:2])
    assert width > 8 and height > 8


def test_resume_by_until_continues_steps(tmp_path):
    cfg = _tiny(tmp_path, n_iter=30)
    gan = build_gan(cfg)
    train(cfg, until=10, gan=gan)
    assert int(gan.g_steps.numpy()) == 10
    train(cfg, until=30, gan=gan)
    assert int(gan.g_steps.numpy()) == 30


def _cli(args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "bin", "train.py"), *args], cwd=cwd, capture_output=True, text=True,
        timeout=300,
    )


def test_cli_flagfile_run(tmp_path):
    out = _cli(
        ["--flagfile=configs/toy_balanced_dat.flags", "--n_iter=20", "--log_every=10", "--batch_size=16",
         "--verbose=0", f"--run_dir={tmp_path}/cli"]
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "finished 20 generator steps" in out.stdout
    cfg = json.load(open(tmp_path / "cli" / "config.json"))
    assert cfg["regularizer"] == "dat" and cfg["dataset"] == "mixture_balanced"


@pytest.mark.parametrize(
    "flag, expect",
    [("--regularizer=foo", "--regularizer='foo'"), ("--dat_epsilon=-1", "--dat_epsilon=-1.0"), ("--n_dis=0", "--n_dis=0")],
)
def test_cli_bad_flag_fails_fast_with_message(tmp_path, flag, expect):
    out = _cli([flag, f"--run_dir={tmp_path}/bad"])
    assert out.returncode == 2
    assert expect in out.stderr
    # The problem comes first and alone: no usage text or flag listing around it (TF's own log lines aside).
    ours = [line for line in out.stderr.splitlines() if not re.match(r"^[IWEF]\d{4} |^WARNING: All log|^To enable", line)]
    assert ours[0].startswith("error: ") and len(ours) <= 4, out.stderr
    assert not os.path.exists(tmp_path / "bad"), "a rejected run must not create its run_dir"


@pytest.mark.parametrize("spe, log_every, n_iter", [(50, 10, 20), (4, 6, 9), (1, 5, 5)])
def test_step_count_is_exact_whatever_steps_per_execution(tmp_path, spe, log_every, n_iter):
    cfg = _tiny(tmp_path, steps_per_execution=spe, log_every=log_every, n_iter=n_iter, sample_every=0)
    gan, _ = train(cfg)
    assert int(gan.g_steps.numpy()) == n_iter


# ------------------------------------------------------------------ bin/train.py: runtime errors and progress

_TINY = ["--dataset=mixture_balanced", "--net=mlp", "--width=8", "--batch_size=16", "--sample_every=0",
         "--steps_per_execution=1"]
_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(args, **kw):
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", "train.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=_ENV, **kw)


def _ours(stderr):
    """stderr without TensorFlow's and absl's own log lines."""
    return [line for line in stderr.splitlines()
            if not re.match(r"^[IWEF]\d{4} |^WARNING: All log|^To enable", line)]


def _one_paragraph(stderr):
    ours = _ours(stderr)
    assert ours and ours[0].startswith("error: "), stderr[-3000:]
    assert sum(line.startswith("error: ") for line in ours) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return "\n".join(ours)


def test_cli_dataset_not_prepared_exits_4_in_seconds_and_leaves_no_folder(tmp_path):
    run = tmp_path / "run"
    out = _run([*_TINY, "--dataset=cifar10", f"--data_dir={tmp_path / 'empty'}", f"--run_dir={run}"])
    assert out.returncode == 4, out.stderr[-3000:]
    text = _one_paragraph(out.stderr)
    assert "--dataset=cifar10 cannot be used" in text and "tfds build cifar10" in text  # what to do
    assert not run.exists()


def test_cli_bad_images_exit_4_naming_them(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "broken.png").write_bytes(b"not a png")
    out = _run([*_TINY, f"--dataset=folder:{tmp_path / 'imgs'}", "--resolution=8", f"--run_dir={tmp_path / 'run'}"])
    assert out.returncode == 4, out.stderr[-3000:]
    assert "broken.png: cannot be decoded" in _one_paragraph(out.stderr)


def test_cli_unwritable_run_dir_exits_5(tmp_path):
    (tmp_path / "a_file").write_text("in the way")
    out = _run([*_TINY, f"--run_dir={tmp_path / 'a_file' / 'run'}"])
    assert out.returncode == 5, out.stderr[-3000:]
    text = _one_paragraph(out.stderr)
    assert f"cannot write to the run folder {tmp_path / 'a_file' / 'run'}" in text and "--run_dir" in text


_PATCHED_TRAIN = """
import runpy, sys
import dat_tf.train.loop as loop
def train(*args, **kwargs):
    raise {exc}
loop.train = train
sys.argv = [{script!r}, *sys.argv[1:]]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.parametrize(
    "exc, code, expect",
    [
        ('RuntimeError("boom\\nsecond line")', 70,
         "error: unexpected RuntimeError: boom second line. This is probably a bug; rerun with --debug for the traceback."),
        ("KeyboardInterrupt()", 130, "error: interrupted (Ctrl-C) before training started in "),
        ("__import__('dat_tf.train.stop_signals').train.stop_signals.Interrupted(15)", 143,
         "error: terminated (SIGTERM) before training started in "),
    ],
)
def test_cli_other_errors_are_one_paragraph_and_debug_adds_the_traceback(tmp_path, exc, code, expect):
    script = os.path.join(ROOT, "bin", "train.py")
    code_text = _PATCHED_TRAIN.format(exc=exc, script=script)
    args = [sys.executable, "-c", code_text, *_TINY, f"--run_dir={tmp_path / 'run'}"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=_ENV)
    assert out.returncode == code, out.stderr[-3000:]
    assert _one_paragraph(out.stderr).startswith(expect)
    debug = subprocess.run(args + ["--debug"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=_ENV)
    assert debug.returncode == code
    assert "Traceback (most recent call last)" in debug.stderr and expect in debug.stderr


@pytest.mark.slow
def test_cli_restore_refused_exits_6(tmp_path):
    run = tmp_path / "run"
    args = [*_TINY, "--n_iter=2", "--log_every=1", "--checkpoint_every=1", f"--run_dir={run}"]
    assert _run(args).returncode == 0
    for name in os.listdir(run / "checkpoints"):
        if name.startswith("ckpt-"):
            (run / "checkpoints" / name).write_bytes(b"garbage")
    out = _run([*args[:-2], "--n_iter=4", f"--run_dir={run}"])
    assert out.returncode == 6, out.stderr[-3000:]
    text = "\n".join(_ours(out.stderr))
    assert "error: None of the 2 checkpoint(s)" in text and "Repair or remove them" in text
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_cli_ctrl_c_saves_the_step_reached_and_exits_130(tmp_path):
    import glob
    import signal
    import time

    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "bin", "train.py"), *_TINY, "--n_iter=1000000", "--log_every=20",
         "--checkpoint_every=20", "--keep_checkpoints=1000", f"--run_dir={run}"],
        cwd=ROOT, env=_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell's background job (CI under nohup, `pytest &`) passes SIGINT on as ignored: give the child the
        # default disposition, as a terminal would, so that Python turns Ctrl-C into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.time() + 240
        while not glob.glob(str(run / "checkpoints" / "*.index")) and time.time() < deadline:
            time.sleep(0.3)
        time.sleep(0.5)  # between checkpoints
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    text = _one_paragraph(err)
    m = re.match(r"error: interrupted \(Ctrl-C\) at generator step (\d+) in \S+; saved (\S+/ckpt-(\d+)), where a "
                 r"rerun continues\. Rerun the same command to resume\.$", text)
    assert m, text
    step, path, ckpt = int(m.group(1)), m.group(2), int(m.group(3))
    assert step == ckpt > 20 and path == str(run / "checkpoints" / f"ckpt-{step}")
    assert os.path.exists(path + ".index")


@pytest.mark.slow
def test_cli_progress_counts_steps_of_n_iter_across_a_resume(tmp_path):
    run = tmp_path / "run"
    first = _run([*_TINY, "--n_iter=4", "--log_every=2", f"--run_dir={run}"])
    assert first.returncode == 0, first.stderr[-3000:]
    lines = [line for line in first.stdout.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["2/4", "4/4"]
    assert re.match(r"step 2/4  d_loss \S+  g_loss \S+  \S+ it/s  ETA \d+(m\d\ds)?s?$", lines[0]), lines[0]
    resumed = _run([*_TINY, "--n_iter=8", "--log_every=2", f"--run_dir={run}"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Counts on from the resumed step (Keras' bar restarted at "Epoch 1").
    assert [line.split()[1] for line in resumed.stdout.splitlines() if line.startswith("step ")] == ["6/8", "8/8"]
    assert "Epoch" not in resumed.stdout


@pytest.mark.slow
def test_cli_failed_run_then_corrected_rerun_starts_normally(tmp_path):
    # Issue 11, problem 9: the failed run's config.json made the corrected rerun "another configuration".
    run = tmp_path / "run"
    common = ["--dataset=cifar10", "--net=mlp", "--width=8", "--batch_size=16", "--n_iter=2", "--log_every=1",
              "--sample_every=0", f"--run_dir={run}"]
    failed = _run([*common, f"--data_dir={tmp_path / 'empty'}"])
    assert failed.returncode != 0 and "is not prepared" in failed.stderr
    fixed = _run([*common, "--mock_data"])
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "finished 2 generator steps" in fixed.stdout
