"""``bin/train.py`` answers ``--help`` and rejects bad flags without loading TensorFlow, and a
CPU run prints none of TensorFlow's start-up noise (issue 11, problem 7)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(ROOT, "bin", "train.py")
HEAVY = ("tensorflow", "keras", "tf_keras", "jax", "torch")
NOISE = ("cuInit", "Could not find cuda drivers", "oneDNN custom operations", "cpu_feature_guard",
         "absl::InitializeLog", "UNKNOWN ERROR (303)")


def _env():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own default, not the test runner's
    return env


def _run_importtime(*args):
    """``(returncode, stdout, stderr without -X importtime lines, imported module names)``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", TRAIN, *args], capture_output=True, text=True,
                          cwd=ROOT, env=_env(), timeout=120)
    modules, other = [], []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            modules.append(line.rsplit("|", 1)[1].strip())
        else:
            other.append(line)
    assert modules, "no -X importtime output: the check below would pass vacuously"
    return proc.returncode, proc.stdout, "\n".join(other), modules


def _heavy(modules):
    return sorted({m for m in modules if m.split(".")[0] in HEAVY})


@pytest.mark.parametrize("flag", ["--helpfull", "--help", "-h"])
def test_help_does_not_import_tensorflow(flag):
    code, out, err, modules = _run_importtime(flag)
    assert code in (0, 1), err  # absl's help flags exit with 1
    assert "dat_tf.train.config" in modules  # the flags really were built from the config
    assert not _heavy(modules), f"{flag} imported {_heavy(modules)[:5]}"
    assert "--dat_epsilon" in out and "Allowed: a finite number > 0.0" in out
    assert "--regularizer" in out and "'datt'" in out  # choices read from the registry


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--regularizer=dat", "--dat_epsilon=0"], "--dat_epsilon=0.0 is not allowed; expected a finite number > 0.0"),
        (["--net=nope"], "--net='nope' is not allowed; expected one of ['mlp'"),
        (["--dataset=digits", "--net=sngan"], "--net='sngan' is not allowed with --dataset='digits'"),
        (["--batch_size=7", "--strategy=mirrored", "--num_devices=2"], "--batch_size=7 is not allowed with --strategy"),
        # A value absl cannot parse: one short line, exit 2 (absl alone prints its usage text and exits 1).
        (["--n_iter=abc"], "error: flag --n_iter=abc: invalid literal for int() with base 10: 'abc'"),
    ],
)
def test_bad_flags_are_rejected_without_importing_tensorflow(args, expected):
    code, out, err, modules = _run_importtime(*args)
    assert code == 2, (out, err)
    assert expected in err
    assert not _heavy(modules), f"{args} imported {_heavy(modules)[:5]}"
    assert not any(n in err for n in NOISE), err


def test_importing_the_config_alone_loads_no_tensorflow():
    code = ("import sys, dat_tf, dat_tf.train.config, dat_tf.train.cli\n"
            "dat_tf.get_regularizer('dat', epsilon=0.5); dat_tf.get_loss('hinge')\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_cpu_run_prints_no_start_up_noise(tmp_path):
    proc = subprocess.run(
        [sys.executable, TRAIN, "--dataset=mixture_balanced", "--net=mlp", "--n_iter=2", "--log_every=1",
         "--batch_size=8", "--verbose=0", f"--run_dir={tmp_path / 'run'}"],
        capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "finished 2 generator steps" in proc.stdout
    noisy = [line for line in proc.stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noisy, "\n".join(noisy)


@pytest.mark.slow
def test_tf_cpp_min_log_level_0_shows_everything(tmp_path):
    """The way to see every line: the user's level wins and nothing is filtered."""
    code = "import sys; sys.argv = ['x']; from dat_tf.quiet import quiet_tensorflow; quiet_tensorflow(); import tensorflow"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**_env(), "TF_CPP_MIN_LOG_LEVEL": "0"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=_env(),
                           timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert not any(n in quiet.stderr for n in NOISE), quiet.stderr
    if not any(n in proc.stderr for n in NOISE):
        pytest.skip("this TensorFlow build prints no start-up lines at level 0; nothing to compare")
