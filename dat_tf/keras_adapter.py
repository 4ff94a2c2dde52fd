"""The Keras internals dat_tf needs, all in this one module.

Keras 3 has no public API for two things the GAN relies on; everything else in
``dat_tf`` uses public Keras only (``grep -rn "keras\\.src\\|\\._learning_rate\\|\\._direction"
dat_tf/`` finds this file alone).

1. **A metric's direction, for ``mode="auto"``.**  Keras's monitoring callbacks
   (``EarlyStopping``, ``ModelCheckpoint`` and ``ReduceLROnPlateau``, through
   ``keras.src.callbacks.monitor_callback.MonitorCallback``) decide "min" or "max" in
   ``mode="auto"`` from the model's metrics, but only from those inside a
   ``keras.src.trainers.compile_utils.MetricsList`` (or ``CompileMetrics``) in
   ``model.metrics``, and only by each metric's private ``_direction``
   (``"up"`` or ``"down"``); a metric without one is refused ("isn't able to
   automatically determine whether that metric should be maximized or
   minimized").  A plain ``keras.metrics.Metric`` in ``model.metrics`` is
   logged but has no direction.  :func:`monitored_metrics` gives the GAN's
   losses the direction ``"down"`` so ``EarlyStopping(monitor="d_loss")``
   works in its default mode.
2. **What an optimizer's learning rate comes from.**  ``optimizer.learning_rate``
   returns the rate's *value* (a schedule is evaluated at the optimizer's
   step); the object behind it (the ``keras.Variable`` of a float rate, the
   ``LearningRateSchedule``, or a callable) is kept only in the private
   ``optimizer._learning_rate``.  :func:`learning_rate_source` reads it: the
   GAN refuses to overwrite a schedule, and ``dat_tf.train.schedules`` scales a
   float rate's variable or wraps a schedule.

Checked on Keras 3.15.0 with TensorFlow 2.20.0 (the oldest pair ``setup.py``
allows; also with TensorFlow 2.18.1) and Keras 3.15.1 with TensorFlow 2.21.0
(the newest); Keras 3.5.0 reads both the same way.  ``tests/keras_adapter_test.py`` exercises each
assumption through Keras's own callbacks and optimizers and fails with a
message naming this module when a Keras release changes one.
"""

from __future__ import annotations

import keras

CHECKED_KERAS_VERSIONS = ("3.15.0", "3.15.1")


class _MetricsList(keras.src.trainers.compile_utils.MetricsList):
    """Metrics as one Keras metrics list whose ``result()`` is a dict (name -> value)."""

    def result(self):
        return self.get_result()


def monitored_metrics(metrics, lower_is_better=(), name="metrics"):
    """``metrics`` as a ``Model.metrics`` value that Keras's callbacks read directions from.

    Returns a one-element list: a metrics list holding ``metrics`` (their
    results are logged under their own names, as plain metrics are).  Each
    metric named in ``lower_is_better`` gets the direction "down", so
    ``mode="auto"`` callbacks minimize it; the others have no direction and
    need an explicit ``mode``.

    Args:
      metrics: ``keras.metrics.Metric`` instances.
      lower_is_better: names of those to minimize.
      name: the list's name (not logged).
    """
    metrics = list(metrics)
    for metric in metrics:
        if metric.name in lower_is_better:
            metric._direction = "down"
    return [_MetricsList(metrics, name=name)]


def learning_rate_source(optimizer):
    """The object ``optimizer``'s learning rate is read from.

    A ``keras.Variable`` for a float rate (assigning it changes the rate, also
    in traced train functions), the ``LearningRateSchedule`` itself, or a
    callable.  A ``LossScaleOptimizer`` answers for its ``inner_optimizer``.
    """
    base = getattr(optimizer, "inner_optimizer", optimizer)
    try:
        return base._learning_rate
    except AttributeError:
        raise RuntimeError(
            f"{type(base).__name__} keeps no `_learning_rate` in Keras {keras.__version__}: "
            f"dat_tf/keras_adapter.py needs updating (checked on Keras {' and '.join(CHECKED_KERAS_VERSIONS)})."
        ) from None

