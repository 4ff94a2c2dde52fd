"""bin/eval.py: JSON lines per metric, offline, and clear flag errors."""

import json
import os
import subprocess
import sys

import pytest

from dat_tf.nets import dcgan_generator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bin", "eval.py")


def _run(args, tmp_path, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", DAT_TF_METRICS_CACHE=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout)


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
        ([], "give exactly one of --run_dir"),
        (["--generator=/nonexistent.keras"], "--generator file not found"),
        (["--generator={g}", "--dataset=cifar10"], "--dataset must be one of"),
        (["--generator={g}", "--num_samples=1"], "--num_samples must be >= 2"),
        (["--generator={g}", "--seeds=0"], "--seeds must be >= 1"),
        (["--generator={g}", "--classifier=resnet"], "--classifier must be"),
        (["--generator={g}", "--classifier={g}"], "--feature_layer and --logits_layer"),
        (["--generator={g}", "--inception_path=/x"], "--inception_path only applies"),
        (["--generator={g}", "--splits=val"], "--splits must be"),
    ],
)
def test_eval_cli_rejects_bad_flags(tmp_path, args, message):
    g = tmp_path / "g.keras"
    g.write_bytes(b"not checked before validation")
    out = _run([a.format(g=g) for a in args], tmp_path, timeout=60)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr[-2000:]


def test_eval_cli_missing_inception_exits_with_instructions(tmp_path):
    g = tmp_path / "g.keras"
    g.write_bytes(b"the classifier is resolved before the generator is read")
    out = _run([f"--generator={g}", "--classifier=inception",
                "--inception_path=https://tfhub.invalid/tensorflow/tfgan/eval/inception/1"], tmp_path, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "--inception_path" in out.stderr and "TFHUB_CACHE_DIR" in out.stderr
    assert out.stdout.strip() == ""
