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
