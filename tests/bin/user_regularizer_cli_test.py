"""``bin/train.py --regularizer=module:Class`` runs a user's own regularizer, from a module outside dat_tf.

The module is written here into ``tmp_path`` and found through ``PYTHONPATH``; its class's fields become
flags (``--tiny_r1_weight``), ``config.json`` records the name so a rerun resumes and another one is
refused, and a module or class that cannot be used is one line and exit 2.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(ROOT, "bin", "train.py")
TOY = ["--flagfile=configs/toy_balanced.flags", "--log_every=10", "--sample_every=0"]

MODULE = '''
"""A user's regularizers: plain Regularizer subclasses, no decorator."""
from dat_tf.hparams import param
from dat_tf.regularizers import Regularizer


class TinyR1(Regularizer):
    """weight * E||grad D(x_r)||^2."""

    weight: float = param(1.0, "Lambda of the user's R1.", low=0.0)

    def penalty(self, step, pert):
        import tensorflow as tf

        grad, _ = step.critic.input_gradient(tf.reduce_sum, step.real)
        return self.weight * tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=-1))


class Other(TinyR1):
    """The same penalty under another class."""


def helper():
    return 1
'''


@pytest.fixture
def user_module(tmp_path):
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "tiny_regs.py").write_text(textwrap.dedent(MODULE))
    return folder


def _train(user_module, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(user_module), ROOT])}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, TRAIN, *TOY, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=600)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("no_such_module:TinyR1", "--regularizer='no_such_module:TinyR1' is not allowed: cannot import module "
                                  "'no_such_module' (No module named 'no_such_module')"),
        ("tiny_regs:TinyR", "--regularizer='tiny_regs:TinyR' is not allowed: module 'tiny_regs' has no 'TinyR' "
                            "(did you mean 'TinyR1'?); its Regularizer subclasses: ['Other', 'TinyR1']"),
        ("tiny_regs:helper", "--regularizer='tiny_regs:helper' is not allowed: tiny_regs.helper is a function, not "
                             "a Regularizer subclass"),
        ("tiny:regs:X", "--regularizer='tiny:regs:X' is not allowed: Unknown regularizer 'tiny:regs:X'; expected one "
                        "of ['none', 'gp'"),
    ],
)
def test_a_module_or_class_that_cannot_be_used_is_one_line_and_exit_2(user_module, tmp_path, value, expected):
    proc = _train(user_module, f"--regularizer={value}", f"--run_dir={tmp_path / 'run'}")
    assert proc.returncode == 2, proc.stderr
    first, *rest = proc.stderr.strip().splitlines()
    assert first.startswith("error: ") and expected in first, proc.stderr
    assert rest == ["(python bin/train.py --helpfull lists every flag.)"], proc.stderr
    assert not (tmp_path / "run").exists()


def test_its_fields_are_flags_in_help_and_checked(user_module, tmp_path):
    proc = _train(user_module, "--regularizer=tiny_regs:TinyR1", "--helpfull")
    assert "--tiny_r1_weight: [tiny_regs:TinyR1] Lambda of the user's R1. Default: 1.0." in proc.stdout, proc.stderr
    bad = _train(user_module, "--regularizer=tiny_regs:TinyR1", "--tiny_r1_weight=-1", f"--run_dir={tmp_path / 'r'}")
    assert bad.returncode == 2 and "--tiny_r1_weight=-1.0 is not allowed; expected a finite number >= 0.0" in bad.stderr
    other = _train(user_module, "--regularizer=tiny_regs:TinyR1", "--dat_epsilon=2", f"--run_dir={tmp_path / 'r'}")
    assert other.returncode == 2 and "--dat_epsilon=2.0 is not allowed with --regularizer=tiny_regs:TinyR1" in other.stderr


@pytest.mark.slow
def test_trains_resumes_and_refuses_another(user_module, tmp_path):
    run = tmp_path / "run"
    first = _train(user_module, "--regularizer=tiny_regs:TinyR1", "--tiny_r1_weight=0.5", "--n_iter=20",
                   f"--run_dir={run}")
    assert first.returncode == 0, first.stderr
    assert f"finished 20 generator steps in {run}" in first.stdout
    reg = float(first.stdout.split("'reg': ")[1].split(",")[0])
    assert reg > 0  # the user's penalty was computed and logged
    config = json.loads((run / "config.json").read_text())
    assert config["regularizer"] == "tiny_regs:TinyR1" and config["reg_args"] == {"weight": 0.5}

    again = _train(user_module, "--regularizer=tiny_regs:TinyR1", "--tiny_r1_weight=0.5", "--n_iter=30",
                   f"--run_dir={run}")
    assert again.returncode == 0, again.stderr
    assert "resumed from" in again.stdout and "generator step 20" in again.stdout, again.stdout
    assert f"finished 30 generator steps in {run}" in again.stdout

    refused = _train(user_module, "--regularizer=tiny_regs:Other", "--other_weight=0.5", "--n_iter=30",
                     f"--run_dir={run}")
    assert refused.returncode == 3, refused.stderr
    assert "--regularizer: 'tiny_regs:TinyR1' in the run, 'tiny_regs:Other' now" in refused.stderr
