"""Learning-rate schedules counted in *generator* steps, as the paper counts.

The paper's Table 1 decays the learning rate linearly to zero over
``n_iter`` generator steps.  Each optimizer counts its own updates: G's
optimizer makes one per generator step, D's makes ``n_dis``.
:class:`LinearDecay` converts with ``updates_per_step``, so both players'
rates are the same function of the generator step.
:class:`ScaledSchedule` multiplies a schedule by a variable, the scale the
NaN guard (``--on_nan=restore``) lowers; :func:`scale_learning_rate` scales
a float rate or a ``ScaledSchedule`` alike, through a variable that traced
train functions read and checkpoints hold.

Example:

>>> d_lr = LinearDecay(2e-4, total_steps=100_000, updates_per_step=5)
>>> round(float(d_lr(5 * 50_000)), 8)  # halfway through, in D updates (float32)
0.0001
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from dat_tf.keras_adapter import learning_rate_source


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
    """``scale * schedule(step)``, with ``scale`` a variable: a schedule the NaN guard can lower.

    ``scale`` is a non-trainable scalar ``keras.Variable`` read inside the
    traced train step, so assigning it changes the rate without retracing.
    :class:`dat_tf.train.checkpoints.RunCheckpointer` saves it in the run's
    checkpoints; ``get_config`` holds its value (so ``gan.keras`` keeps it).

    Args:
      schedule: the schedule scaled (a ``LearningRateSchedule`` or its serialized dict).
      factor: the initial scale, a finite number > 0.

    Example:

    >>> s = ScaledSchedule(LinearDecay(1e-3, total_steps=100), factor=0.5)
    >>> round(float(s(50)), 8)  # 0.5 * 1e-3 * (1 - 50/100)
    0.00025
    """

    def __init__(self, schedule, factor: float = 1.0):
        if isinstance(schedule, dict):
            schedule = keras.optimizers.schedules.deserialize(schedule)
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError(f"schedule must be a LearningRateSchedule, got {type(schedule).__name__}.")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < math.inf:
            raise ValueError(f"factor must be a finite number > 0, got {factor!r}.")
        self.schedule = schedule
        self.scale = keras.Variable(
            float(factor), dtype="float32", trainable=False, autocast=False, aggregation="only_first_replica",
            name="lr_scale",
        )

    @property
    def factor(self) -> float:
        return float(keras.ops.convert_to_numpy(self.scale))

    def __call__(self, step):
        rate = self.schedule(step)
        return rate * tf.cast(self.scale.value, rate.dtype)

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule), "factor": self.factor}


def learning_rate(optimizer) -> float:
    """The optimizer's current learning rate (a schedule evaluated at its iteration count)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def make_scalable(optimizer) -> bool:
    """Wraps ``optimizer``'s plain schedule in a :class:`ScaledSchedule` (scale 1).

    A float rate needs nothing (its own variable is scaled), nor does a
    rate already wrapped.  Returns ``True`` if it wrapped: a train function
    traced before holds the unwrapped schedule and must be rebuilt.
    """
    rate = learning_rate_source(optimizer)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) and not isinstance(rate, ScaledSchedule):
        getattr(optimizer, "inner_optimizer", optimizer).learning_rate = ScaledSchedule(rate)  # LossScaleOptimizer
        return True
    return False


def scale_variable(optimizer):
    """The variable that ``optimizer``'s rate scales with: a float rate's own
    variable, or a :class:`ScaledSchedule`'s ``scale``; ``None`` for another
    rate (a plain schedule: see :func:`make_scalable`; a callable)."""
    rate = learning_rate_source(optimizer)
    if isinstance(rate, ScaledSchedule):
        return rate.scale
    if isinstance(rate, keras.Variable):
        return rate
    return None


def scale_learning_rate(optimizer, factor: float, current: float | None = None) -> float:
    """Sets ``optimizer``'s rate to ``factor`` times its value now (or times
    ``current``, a value of :func:`scale_variable` read earlier, e.g. before a
    checkpoint was restored); returns the variable's new value.

    A float rate's variable, or a :class:`ScaledSchedule`'s ``scale``, is
    assigned: traced train functions read it, nothing is retraced.  Raises
    ``ValueError`` for a rate without such a variable.
    """
    variable = scale_variable(optimizer)
    if variable is None:
        rate = learning_rate_source(optimizer)
        raise ValueError(
            f"cannot scale a learning rate of type {type(rate).__name__}: it must be a float or a ScaledSchedule "
            "(make_scalable wraps a LearningRateSchedule)."
        )
    value = float(keras.ops.convert_to_numpy(variable)) if current is None else float(current)
    variable.assign(value * factor)
    return float(keras.ops.convert_to_numpy(variable))


def crossed(prev_step: int, step: int, every: int) -> bool:
    """Whether a multiple of ``every`` lies in ``(prev_step, step]``: "is it time" for every-N-steps work.

    Keras calls callbacks at epoch ends, which need not fall on the multiples
    (with epochs of 700 steps and ``every=1000`` they end at 700, 1400,
    2100, ...; an epoch longer than ``every`` passes several multiples).  The
    callbacks that act "every N generator steps" act at the first epoch end
    at or past each multiple, once per epoch end: they call this with the
    step they last acted at (or started from) and the current step.

    Args:
      prev_step: the step last acted at (exclusive); ``-1`` makes step 0 count.
      step: the current step (inclusive).
      every: the period, an integer >= 1.

    Example:

    >>> crossed(900, 1000, 1000), crossed(1000, 1500, 1000), crossed(1500, 2300, 1000)
    (True, False, True)
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an integer >= 1, got {every!r}.")
    return step // every > prev_step // every

