"""Shared test setup.

TensorFlow's devices are fixed the first time its runtime is initialised, so
this module splits the single physical CPU into two logical devices *before*
any test imports TensorFlow ops; ``MirroredStrategy(["/cpu:0", "/cpu:1"])``
then gives two replicas on a one-CPU machine.
"""

import os
import re
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Tests never reach the network, whatever the machine can reach: downloads see "offline" (dat_tf.network);
# the tests of the download path fake the network themselves. Subprocesses inherit it.
os.environ["DAT_TF_OFFLINE"] = "1"

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # pragma: no cover - runtime already initialised by another plugin
    pass

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same Python / numpy / TF / Keras seed."""
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def two_cpu_strategy():
    """``MirroredStrategy`` over the two logical CPU devices."""
    logical = tf.config.list_logical_devices("CPU")
    if len(logical) < 2:
        pytest.fail(f"conftest could not split the CPU into 2 logical devices: {logical}")
    from dat_tf.train.strategy import make_strategy

    return make_strategy("mirrored", num_devices=2)  # the process-wide instance the library uses too


@pytest.fixture(scope="session")
def one_cpu_strategy():
    """The single-device counterpart of :func:`two_cpu_strategy`."""
    return tf.distribute.OneDeviceStrategy("/cpu:0")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _linear_discriminator(w, b=0.0):
    w = np.asarray(w, np.float32)
    model = keras.Sequential([keras.Input((w.size,)), keras.layers.Dense(1, name="linear")])
    model.layers[-1].set_weights([w.reshape(-1, 1), np.array([b], np.float32)])
    return model


def _quadratic_discriminator(dim):
    return keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Lambda(lambda x: 0.5 * keras.ops.sum(x * x, axis=1, keepdims=True)),
        ]
    )


@pytest.fixture
def linear_d():
    """Factory ``(w, b=0) -> keras Dense(1) model x -> w.x + b``."""
    return _linear_discriminator


@pytest.fixture
def quadratic_d():
    """Factory ``dim -> model x -> 0.5 * sum(x * x)`` (input gradient ``x``, no weights)."""
    return _quadratic_discriminator


# Subclassed nets in the four forms of ``call`` Keras code uses (issue 20). Each is Dense -> BatchNorm -> ReLU
# -> Dense, so training mode (batch statistics) and state (moving statistics) both show; `twin` builds the same
# net as a functional model for comparisons.
class _SubclassedNet(keras.Model):
    def __init__(self, outputs=1, width=8, **kwargs):
        super().__init__(**kwargs)
        self.outputs_per_example, self.width = outputs, width
        self.hidden = keras.layers.Dense(width, use_bias=False)  # a bias before BatchNorm gets only rounding noise
        self.norm = keras.layers.BatchNormalization(momentum=0.5)
        self.head = keras.layers.Dense(outputs)

    def forward(self, x, **training):  # passes `training` on only when given, as the nets of Keras guides do
        return self.head(keras.ops.relu(self.norm(self.hidden(x), **training)))

    def get_config(self):
        return {**super().get_config(), "outputs": self.outputs_per_example, "width": self.width}


@keras.saving.register_keras_serializable(package="dat_tf_tests")
class CallNoTraining(_SubclassedNet):
    def call(self, x):
        return self.forward(x)


@keras.saving.register_keras_serializable(package="dat_tf_tests")
class CallTrainingNone(_SubclassedNet):
    def call(self, x, training=None):
        return self.forward(x, training=training)


@keras.saving.register_keras_serializable(package="dat_tf_tests")
class CallTrainingFalse(_SubclassedNet):
    def call(self, x, training=False):
        return self.forward(x, training=training)


@keras.saving.register_keras_serializable(package="dat_tf_tests")
class CallKwargs(_SubclassedNet):
    def call(self, x, **kwargs):
        return self.forward(x)


CALL_FORMS = {"call(x)": CallNoTraining, "call(x, training=None)": CallTrainingNone,
              "call(x, training=False)": CallTrainingFalse, "call(x, **kwargs)": CallKwargs}


def _functional_twin(net, input_dim):
    """The functional model with ``net``'s layers and weights (``net`` built on ``input_dim`` features)."""
    twin = keras.Sequential([
        keras.Input((input_dim,)), keras.layers.Dense(net.width, use_bias=False),
        keras.layers.BatchNormalization(momentum=0.5),
        keras.layers.ReLU(), keras.layers.Dense(net.outputs_per_example),
    ])
    twin.set_weights(net.get_weights())
    return twin


@pytest.fixture
def call_forms():
    """``{form: class}`` of subclassed nets whose ``call`` has each Keras form, and ``twin(net, input_dim)``."""
    return CALL_FORMS, _functional_twin


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def installed_command(tmp_path_factory):
    """``installed_command("dat-train")``: the argv of that console script of setup.py, written as pip writes it
    (a file named as the command: ``from dat_tf.commands.train import run; sys.exit(run())``) but importing this
    checkout, so a test runs a command as a user who installed the package does, from any folder."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        scripts = dict(re.findall(r'"(dat-[\w-]+) = ([\w.]+:\w+)"', f.read()))
    folder = tmp_path_factory.mktemp("installed_bin")

    def argv(name):
        module, function = scripts[name].split(":")
        path = folder / name
        path.write_text(f"import sys\nsys.path.insert(0, {ROOT!r})\nfrom {module} import {function}\n"
                        f"if __name__ == '__main__':\n    sys.exit({function}())\n")
        return [sys.executable, str(path)]

    return argv


@pytest.fixture
def assert_help(installed_command, tmp_path):
    """``assert_help("dat-train", "Trains one GAN run", ["run_dir", ...])``: the installed command's ``--help``,
    run from an empty folder, exits as absl's does (1), starts with the command's own text and lists those flags."""

    def check(name, start, flags):
        proc = subprocess.run([*installed_command(name), "--help"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 1, proc.stderr[-2000:]  # absl's --help exits with 1
        assert proc.stdout.startswith(start), proc.stdout[:500]
        listed = set(re.findall(r"^  --(?:\[no\])?(\w+):", proc.stdout, flags=re.M))
        assert set(flags) <= listed, sorted(listed)
        assert "Traceback" not in proc.stderr

    return check


# The files whose tests take longest (measured with --durations on 2 processes, 2026-12-08: the README's commands
# 247 s in one test, then the command-line and training files), longest first. They run first, so that the two
# pytest-xdist processes (--dist loadfile hands out whole files in collection order) do not end with one of them
# alone on a long file: the order of tests within a file is kept.
LONG_FILES = ("readme_test.py", "train/loop_test.py", "gan_keras_path_test.py", "train/export_test.py",
              "lazy_test.py", "train/fault_tolerance_test.py", "study/study_test.py", "train/strategy_test.py",
              "train/image_nets_training_test.py", "replicas_test.py")


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))

    def rank(item):
        rel = os.path.relpath(str(item.path), here).replace(os.sep, "/")
        return LONG_FILES.index(rel) if rel in LONG_FILES else len(LONG_FILES)

    items.sort(key=rank)  # stable
