"""bin/eval.py: JSON lines per metric, offline, and clear flag errors."""

import json
import os
import subprocess
import sys

import pytest

from dat_tf.nets import dcgan_generator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bin", "eval.py")


def _run(args, tmp_path, timeout=300, env=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", DAT_TF_METRICS_CACHE=str(tmp_path / "cache"), **(env or {}))
    env.pop("DAT_TF_INCEPTION_PATH", None)
    return subprocess.run([sys.executable, SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=tmp_path)


def test_eval_cli_prints_one_json_line_per_metric(tmp_path):
    path = str(tmp_path / "g.keras")
    dcgan_generator(latent_dim=16, resolution=8, channels=1, width=8).save(path)
    out = _run([f"--generator={path}", "--dataset=digits", "--classifier=digits", "--num_samples=300", "--seeds=2",
                f"--output={tmp_path / 'm.jsonl'}"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [r["metric"] for r in rows] == ["fid_train", "kid_train", "fid_test", "kid_test", "is"]
    assert all(len(r["values"]) == 2 and r["seeds"] == [0, 1] and r["num_samples"] == 300 for r in rows)
    assert rows[-1]["is_splits"] == 10
    assert (tmp_path / "m.jsonl").read_text().count("\n") == 5
    assert "eval seconds" in out.stderr
    assert any(n.startswith("digits@8-train-digits-") for n in os.listdir(tmp_path / "cache"))


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give exactly one of --generator (a saved generator) and --run_dir"),
        (["--generator=/nonexistent.keras"], "--generator file not found"),
        (["--generator={g}", "--dataset=cifar11"], "--dataset must be one of ['digits', 'cifar10', "),
        (["--generator={g}", "--dataset=mixture_balanced"], "--dataset='mixture_balanced' is not an image dataset"),
        (["--generator={g}", "--download"], "--download only applies to the tfds datasets"),
        (["--generator={g}", "--data_dir=/x"], "--data_dir does not apply to --dataset='digits'"),
        (["--run_dir={tmp}", "--dataset=cifar10"], "--dataset only applies with --generator"),
        (["--generator={g}", "--step=2"], "--step only applies with --run_dir"),
        (["--run_dir={tmp}", "--step=-1"], "--step=-1 is not allowed; expected an integer >= 0"),
        (["--generator={g}", "--num_samples=1"], "--num_samples must be >= 2"),
        (["--generator={g}", "--bogus"], "Unknown command line flag 'bogus'"),
        (["--generator={g}", "--seeds=0"], "--seeds must be >= 1"),
        (["--generator={g}", "--classifier=resnet"], "--classifier must be"),
        (["--generator={g}", "--classifier={g}"], "a Keras classifier file needs --feature_layer"),
        (["--generator={g}", "--inception_path=/x"], "--inception_path only applies"),
        (["--generator={g}", "--classifier=inception", "--inception_path={tmp}"], "--inception_path='{tmp}' is not a SavedModel folder"),
        (["--generator={g}", "--splits=val"], "--splits must be"),
    ],
)
def test_eval_cli_rejects_bad_flags(tmp_path, args, message):
    """Exit code 2 and the problem alone: no usage text, no traceback, before any file is read."""
    g = tmp_path / "g.keras"
    g.write_bytes(b"not checked before validation")
    out = _run([a.format(g=g, tmp=tmp_path) for a in args], tmp_path, timeout=60)
    assert out.returncode == 2, out.stderr[-2000:]
    assert f"error: {message.format(tmp=tmp_path)}" in out.stderr.replace("flag --", "--"), out.stderr[-2000:]
    assert "Traceback" not in out.stderr and "FID / KID (train and test split)" not in out.stderr


def _tiny_generator(path, resolution, channels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    dcgan_generator(latent_dim=4, resolution=resolution, channels=channels, width=4).save(path)
    return path


def test_eval_cli_missing_inception_exits_with_instructions(tmp_path):
    g = _tiny_generator(str(tmp_path / "g.keras"), 8, 1)
    out = _run([f"--generator={g}", "--classifier=inception",
                "--inception_path=https://tfhub.invalid/tensorflow/tfgan/eval/inception/1"], tmp_path, timeout=120)
    assert out.returncode == 4, out.stderr[-2000:]
    assert "--inception_path" in out.stderr and "TFHUB_CACHE_DIR" in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout.strip() == ""


def test_eval_cli_cifar10_inception_offline_names_both_missing_resources(tmp_path):
    """The README's Metrics command on a machine without CIFAR-10 and without Inception: exit 4 at once.

    The data is checked first (locally, no download), and the Inception network is checked without the
    network, so nothing is downloaded and one message says what is missing and how to get each.
    """
    g = _tiny_generator(str(tmp_path / "runs" / "sngan_cifar10_dat" / "generator.keras"), 32, 3)
    (tmp_path / "tfds").mkdir()
    env = {"TFDS_DATA_DIR": str(tmp_path / "tfds"), "TFHUB_CACHE_DIR": str(tmp_path / "hub")}
    out = _run([f"--generator={g}", "--dataset=cifar10", "--classifier=inception", "--num_samples=50000"], tmp_path,
               timeout=120, env=env)
    assert out.returncode == 4, out.stderr[-3000:]
    err = out.stderr[out.stderr.index("error: "):]
    assert err.startswith("error: Dataset 'cifar10'") and "is not prepared in " + str(tmp_path / "tfds") in err
    for advice in ("--data_dir=DIR", "--download", "tfds build cifar10", "--inception_path", "$TFHUB_CACHE_DIR"):
        assert advice in err, advice
    assert "Traceback" not in out.stderr and out.stdout.strip() == ""


def test_eval_cli_unreadable_images_in_a_folder_dataset_exit_4_naming_them(tmp_path):
    import numpy as np
    import tensorflow as tf

    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        tf.io.write_file(str(images / f"{i}.png"), tf.io.encode_png(np.zeros((8, 8, 1), np.uint8)))
    (images / "broken.png").write_bytes(b"not a png")
    g = _tiny_generator(str(tmp_path / "g.keras"), 8, 1)
    out = _run([f"--generator={g}", f"--dataset=folder:{images}", "--classifier=digits", "--num_samples=10",
                "--seeds=1", "--is_splits=1"], tmp_path, timeout=120)
    assert out.returncode == 4, out.stderr[-3000:]
    assert "broken.png" in out.stderr and "Traceback" not in out.stderr and out.stdout.strip() == ""
