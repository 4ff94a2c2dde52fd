"""dat_tf/keras_adapter.py: each Keras internal it relies on, exercised through Keras's own classes.

These fail (with a message naming the adapter) on a Keras release that changes one of them; the
adapter's docstring lists the Keras versions it was checked on. The GAN-level behaviour built on them
is pinned in tests/gan_keras_surface_test.py (EarlyStopping(monitor="d_loss"), ReduceLROnPlateau,
LearningRateScheduler, schedules that cannot be set).
"""

import os
import re
import subprocess

import keras
import numpy as np
import pytest

from dat_tf import keras_adapter
from dat_tf.keras_adapter import learning_rate_source, monitored_metrics

CHANGED = (f"Keras {keras.__version__} changed what dat_tf/keras_adapter.py relies on "
           f"(checked on {' and '.join(keras_adapter.CHECKED_KERAS_VERSIONS)}): ")


class _Model(keras.Model):
    """A one-weight model whose ``metrics`` come from :func:`monitored_metrics` and whose logs a test sets."""

    def __init__(self, values):
        super().__init__()
        self.w = self.add_weight(shape=(), initializer="zeros", name="w")
        self.values = list(values)
        self.low = keras.metrics.Mean(name="low")
        self.plain = keras.metrics.Mean(name="plain")
        self.built = True

    @property
    def metrics(self):
        return monitored_metrics([self.low, self.plain], lower_is_better=("low",), name="m")

    def train_step(self, data):
        self.low.update_state(1.0)
        self.plain.update_state(2.0)
        return {m.name: m.result() for m in (self.low, self.plain)}


class _SetLogs(keras.callbacks.Callback):
    """Overwrites the logged ``name`` with ``values[epoch]`` before the callbacks after it read it."""

    def __init__(self, name, values):
        super().__init__()
        self.name, self.values = name, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.name] = self.values[epoch]


def _fit(values, monitor, *callbacks):
    model = _Model(values)
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    history = model.fit(np.zeros((4, 1), "float32"), batch_size=4, epochs=len(values), verbose=0,
                        callbacks=[_SetLogs(monitor, values), *callbacks])
    return model, history


def test_metrics_in_the_list_are_logged_under_their_own_names():
    _, history = _fit([0.0, 0.0], "other")
    assert set(history.history) >= {"low", "plain"}, CHANGED + f"logs {sorted(history.history)}"
    assert history.history["low"] == [1.0, 1.0] and history.history["plain"] == [2.0, 2.0]


@pytest.mark.parametrize("kind", ["EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint"])
def test_auto_mode_minimizes_a_metric_marked_lower_is_better(kind, tmp_path):
    # Falling then rising: minimized, the best is epoch 2 (index); maximized, epoch 0.
    values = [3.0, 2.0, 1.0, 1.5, 2.0, 2.5, 3.0]
    if kind == "EarlyStopping":
        cb = keras.callbacks.EarlyStopping(monitor="low", mode="auto", patience=2)
    elif kind == "ReduceLROnPlateau":
        cb = keras.callbacks.ReduceLROnPlateau(monitor="low", mode="auto", patience=2, factor=0.5)
    else:
        cb = keras.callbacks.ModelCheckpoint(str(tmp_path / "{epoch}.weights.h5"), monitor="low", mode="auto",
                                             save_best_only=True, save_weights_only=True)
    model, history = _fit(values, "low", cb)  # a metric without a direction would raise here (next test)
    if kind == "EarlyStopping":
        assert len(history.history["low"]) == 5, CHANGED + "EarlyStopping did not minimize the 'down' metric"
        assert cb.monitor_op is keras.ops.less
    elif kind == "ReduceLROnPlateau":
        # Best at epoch 2 (0-based), none better at 3 and 4: halved after epoch 4 and after 6 (logged before).
        rates = history.history["learning_rate"]
        assert rates == pytest.approx([1.0] * 5 + [0.5] * 2), CHANGED + f"ReduceLROnPlateau's rates {rates}"
    else:
        saved = sorted(int(os.path.basename(p).split(".")[0]) for p in tmp_path.glob("*.weights.h5"))
        assert saved == [1, 2, 3], CHANGED + f"ModelCheckpoint saved epochs {saved}, not the improvements 1, 2, 3"


def test_auto_mode_refuses_a_metric_without_a_direction_in_early_stopping():
    # Proves that EarlyStopping reads directions from the list (and not from the name): the metric beside
    # the marked one, which has none, is refused.
    with pytest.raises(ValueError, match="maximized or minimized"):
        _fit([0.0], "plain", keras.callbacks.EarlyStopping(monitor="plain", mode="auto"))


def test_the_list_holds_the_metrics_and_its_result_is_a_dict():
    acc = keras.metrics.Mean(name="val_acc_like")
    listed = monitored_metrics([acc], lower_is_better=("val_acc_like",))
    assert len(listed) == 1 and isinstance(listed[0], keras.metrics.Metric)
    assert listed[0].metrics == [acc], CHANGED + "the metrics list does not expose its metrics as .metrics"
    assert listed[0].result() == {"val_acc_like": acc.result()}


def test_learning_rate_source_is_the_float_rates_variable_and_setting_a_float_assigns_it():
    opt = keras.optimizers.Adam(1e-3)
    source = learning_rate_source(opt)
    assert isinstance(source, keras.Variable), CHANGED + f"a float rate is kept as {type(source).__name__}"
    opt.learning_rate = 5e-4
    assert learning_rate_source(opt) is source, CHANGED + "setting a float rate replaced its variable"
    assert float(source.numpy()) == pytest.approx(5e-4)
    source.assign(2e-4)
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(2e-4)


def test_learning_rate_source_is_the_schedule_itself_and_follows_a_new_one():
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
    opt = keras.optimizers.Adam(schedule)
    assert learning_rate_source(opt) is schedule, CHANGED + "the schedule given is not the one kept"
    other = keras.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.5)
    opt.learning_rate = other
    assert learning_rate_source(opt) is other
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(1e-2)  # evaluated at step 0


def test_learning_rate_source_of_a_callable_and_of_a_loss_scale_optimizer():
    fn = lambda: 3e-4  # noqa: E731
    assert learning_rate_source(keras.optimizers.SGD(fn)) is fn
    inner = keras.optimizers.Adam(1e-3)
    assert learning_rate_source(keras.optimizers.LossScaleOptimizer(inner)) is learning_rate_source(inner)


def test_a_missing_private_attribute_is_reported_as_the_adapter_needing_an_update():
    class NotKeras:
        pass

    with pytest.raises(RuntimeError, match=r"dat_tf/keras_adapter.py needs updating"):
        learning_rate_source(NotKeras())


def test_no_other_module_uses_private_keras_api():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(["grep", "-rn", "--include=*.py", r"keras\.src\|\._learning_rate\|\._direction", "dat_tf/"],
                         cwd=root, capture_output=True, text=True).stdout
    outside = [line for line in out.splitlines() if not line.startswith("dat_tf/keras_adapter.py:")]
    assert not outside, "private Keras API outside dat_tf/keras_adapter.py:\n" + "\n".join(outside)


def test_the_checked_versions_are_named_in_the_docstring():
    for version in keras_adapter.CHECKED_KERAS_VERSIONS:
        assert re.search(rf"Keras {re.escape(version)}\b", keras_adapter.__doc__)

