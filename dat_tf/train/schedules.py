"""Learning-rate schedules counted in *generator* steps, as the paper counts.

The paper's Table 1 decays the learning rate linearly to zero over
``n_iter`` generator steps.  Each optimizer counts its own updates: G's
optimizer makes one per generator step, D's makes ``n_dis``.
:class:`LinearDecay` converts with ``updates_per_step``, so both players'
rates are the same function of the generator step.

Example:

>>> d_lr = LinearDecay(2e-4, total_steps=100_000, updates_per_step=5)
>>> float(d_lr(5 * 50_000))  # halfway through, in D updates
0.0001
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="dat_tf")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``initial * max(0, 1 - floor(updates / updates_per_step) / total_steps)``.

    Args:
      initial: learning rate at step 0 (> 0).
      total_steps: generator steps at which the rate reaches zero (>= 1).
      updates_per_step: optimizer updates per generator step (``n_dis`` for
        D, 1 for G).
    """

    def __init__(self, initial: float, total_steps: int, updates_per_step: int = 1):
        if not isinstance(initial, (int, float)) or isinstance(initial, bool) or not initial > 0:
            raise ValueError(f"initial learning rate must be > 0, got {initial!r}.")
        for name, v in (("total_steps", total_steps), ("updates_per_step", updates_per_step)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}.")
        self.initial = float(initial)
        self.total_steps = total_steps
        self.updates_per_step = updates_per_step

    def __call__(self, step):
        g_step = tf.math.floordiv(tf.cast(step, tf.int64), self.updates_per_step)
        frac = 1.0 - tf.cast(g_step, tf.float32) / float(self.total_steps)
        return self.initial * tf.maximum(frac, 0.0)

    def get_config(self):
        return {"initial": self.initial, "total_steps": self.total_steps, "updates_per_step": self.updates_per_step}


@keras.saving.register_keras_serializable(package="dat_tf")
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``factor * schedule(step)``: a learning-rate schedule scaled after a NaN restore."""

    def __init__(self, schedule, factor: float):
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError(f"schedule must be a LearningRateSchedule, got {type(schedule).__name__}.")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < math.inf:
            raise ValueError(f"factor must be a finite number > 0, got {factor!r}.")
        self.schedule = schedule
        self.factor = float(factor)

    def __call__(self, step):
        return self.schedule(step) * self.factor

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule), "factor": self.factor}


def _base_optimizer(optimizer):
    return getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer wraps the real one


def learning_rate(optimizer) -> float:
    """The optimizer's current learning rate (a schedule evaluated at its iteration count)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def scale_learning_rate(optimizer, factor: float, current: float | None = None) -> bool:
    """Multiplies ``optimizer``'s learning rate by ``factor``.

    A float rate becomes ``current * factor`` (``current`` defaults to the
    rate now); a schedule is wrapped in (or its wrapper's factor multiplied
    into) a :class:`ScaledSchedule`.  Returns ``True`` for a schedule: traced
    train functions must then be retraced to use it.
    """
    base = _base_optimizer(optimizer)
    rate = getattr(base, "_learning_rate", None)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        if isinstance(rate, ScaledSchedule):
            base.learning_rate = ScaledSchedule(rate.schedule, rate.factor * factor)
        else:
            base.learning_rate = ScaledSchedule(rate, factor)
        return True
    value = learning_rate(base) if current is None else current
    base.learning_rate = value * factor
    return False

