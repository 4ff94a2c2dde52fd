"""NaN/Inf guard for GAN training (``--on_nan``).

Design notes (granularity, cost, the two policies): docs/design.md, "NaN guard".
"""

from __future__ import annotations

import math
import os
import re
import sys

import keras

from dat_tf.files import write_json_atomic
from dat_tf.keras_adapter import learning_rate_source
from dat_tf.train.checkpoints import CheckpointRestoreError, StateSnapshot, state_variables
from dat_tf.train.schedules import learning_rate, scale_learning_rate, scale_variable

POLICIES = ("stop", "restore")


class NonFiniteLossError(RuntimeError):
    """Training stopped on a NaN/Inf; ``str(e)`` is the message, the rest is in ``report_path``."""

    def __init__(self, message, step, non_finite, report_path, state_path):
        super().__init__(message)
        self.step = step
        self.non_finite = list(non_finite)
        self.report_path = report_path
        self.state_path = state_path


class RolledBack(RuntimeError):
    """Raised by ``NaNGuard(policy="restore")`` after a restore: call ``fit``
    again on the data stream at generator step ``step`` (as
    :func:`dat_tf.train.loop.train` does)."""

    def __init__(self, message, step):
        super().__init__(message)
        self.step = step


_CKPT_NAME = re.compile(r"ckpt-(\d+)$")


def _is_finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return True  # not a number: not ours to judge


def _jsonable(logs):
    out = {}
    for k, v in (logs or {}).items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        out[k] = f if math.isfinite(f) else str(f)  # JSON has no NaN/Inf: "nan", "inf", "-inf"
    return out


def _write_json(path, obj):
    write_json_atomic(path, obj, indent=2, sort_keys=True)


class NaNGuard(keras.callbacks.Callback):
    """Stops, or rolls back and lowers the learning rates, on a NaN/Inf (see the module docstring).

    Raises :class:`NonFiniteLossError` out of ``fit`` when it stops, and
    :class:`RolledBack` when it restored (:func:`dat_tf.train.loop.train`
    then calls ``fit`` again; keep one guard over those calls so that
    ``max_restores`` counts them all).

    Args:
      checkpointer: the run's :class:`dat_tf.train.checkpoints.RunCheckpointer`
        (restores for ``"restore"``; its ``tf.train.Checkpoint`` writes the
        last finite state).
      run_dir: where ``nan_report.json`` and ``nan_state/`` go.
      policy: ``"stop"`` or ``"restore"``.
      lr_factor: learning-rate multiplier per restore, in (0, 1].
      max_restores: restores allowed before a NaN stops the run.
      monitor: the logs checked.
    """

    def __init__(self, checkpointer, run_dir: str, policy: str = "stop", lr_factor: float = 0.5,
                 max_restores: int = 3, monitor=("d_loss", "g_loss")):
        super().__init__()
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {list(POLICIES)}, got {policy!r}.")
        if isinstance(lr_factor, bool) or not isinstance(lr_factor, (int, float)) or not 0 < lr_factor <= 1:
            raise ValueError(f"lr_factor must be a number in (0, 1], got {lr_factor!r}.")
        if isinstance(max_restores, bool) or not isinstance(max_restores, int) or max_restores < 0:
            raise ValueError(f"max_restores must be an integer >= 0, got {max_restores!r}.")
        self.checkpointer = checkpointer
        self.run_dir = os.fspath(run_dir)
        self.policy = policy
        self.lr_factor = float(lr_factor)
        self.max_restores = max_restores
        self.monitor = tuple(monitor)
        self.events = []
        self.restores = 0
        self._snap = None
        self._start = None
        self._last = None

    @property
    def report_path(self) -> str:
        return os.path.join(self.run_dir, "nan_report.json")

    # ---------------------------------------------------------------- keras hooks

    def on_train_begin(self, logs=None):
        if self.policy == "restore":
            for role in ("d", "g"):
                opt = getattr(self.checkpointer.gan, f"{role}_optimizer")
                if scale_variable(opt) is None:
                    raise ValueError(
                        f"on_nan='restore' scales the learning rates, but {role}_optimizer's is a "
                        f"{type(learning_rate_source(opt)).__name__}; allowed: a float "
                        "or a LearningRateSchedule (RunCheckpointer wraps it in a ScaledSchedule)."
                    )
        self._snap = StateSnapshot(state_variables(self.checkpointer.gan))
        values, finite = self._snap.take()
        step = self.checkpointer.step()
        self._start = (values, step) if finite else None
        self._last = (values, step, None) if finite else None
        self._checked = step  # the generator step of the last finite losses
        self._epoch_start = step
        self._spe = int(getattr(self.model, "steps_per_execution", 1) or 1)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.checkpointer.step()

    def on_train_batch_end(self, batch, logs=None):
        # The losses only: the host has them already (no device work, no extra sync).
        logs = logs or {}
        bad = [k for k in self.monitor if k in logs and not _is_finite(logs[k])]
        if bad:
            self._non_finite(bad, logs, since=self._checked, every=f"every {self._spe} steps")
        self._checked = self._epoch_start + batch + 1  # Keras passes the execution's last step in the epoch

    def on_epoch_end(self, epoch, logs=None):
        # First in the callback list: runs before a checkpoint of this state is written.
        values, finite = self._snap.take()
        step = self.checkpointer.step()
        if finite:
            self._last = (values, step, dict(logs or {}))
            return
        since = self._last[1] if self._last else None
        self._non_finite(["weights"], logs or {}, since=since, every="at each epoch end")

    # ------------------------------------------------------------------ handling

    def _non_finite(self, bad, logs, since, every):
        event = {
            "generator_step": self.checkpointer.step(),
            "non_finite": bad,
            "logs": _jsonable(logs),
        }
        where = f"at generator step {event['generator_step']}"
        if since is not None and event["generator_step"] - since > 1:
            where += f" (checked {every}: it arose in steps {since + 1}..{event['generator_step']})"
        if self.policy == "restore" and self.restores < self.max_restores:
            try:
                self._restore(event, where)  # raises RolledBack
            except CheckpointRestoreError as e:
                event["restore_error"] = str(e)
        self._stop(event, where)

    def _newest_checkpoint_step(self):
        """The step of the checkpoint ``restore_latest`` tries first (``None``: no checkpoint)."""
        candidates = self.checkpointer.candidates()
        if not candidates:
            return None
        m = _CKPT_NAME.search(os.path.basename(os.path.normpath(candidates[0])))
        return int(m.group(1)) if m else None

    def _put_back(self, now):
        """Restores the newest finite state known; returns its description."""
        newest = self._newest_checkpoint_step()
        if newest is not None and newest > now:
            newest = None  # ahead of this run (e.g. left by an earlier run in this run_dir): not its past
        if self._start is not None and (newest is None or self._start[1] >= newest):
            self._snap.assign(self._start[0])
            return f"back to the state at the start of this fit (generator step {self._start[1]})"
        if newest is None:
            raise CheckpointRestoreError("no checkpoint to restore and the starting state is not finite", [])
        self.checkpointer.restore_latest()
        return self.checkpointer.restore_summary

    def _restore(self, event, where):
        gan = self.checkpointer.gan
        optimizers = {"lr_d": gan.d_optimizer, "lr_g": gan.g_optimizer}
        before = {k: learning_rate(opt) for k, opt in optimizers.items()}
        # The restored state holds an older scale: scale the one in use now.
        scales = {k: float(keras.ops.convert_to_numpy(scale_variable(opt))) for k, opt in optimizers.items()}
        source = self._put_back(event["generator_step"])
        for k, opt in optimizers.items():
            scale_learning_rate(opt, self.lr_factor, current=scales[k])
        self.restores += 1
        step = self.checkpointer.step()
        after = {k: learning_rate(opt) for k, opt in optimizers.items()}
        lrs = ", ".join(f"{k} {before[k]:.4g} -> {after[k]:.4g}" for k in optimizers)
        message = (
            f"NaN/Inf in {', '.join(event['non_finite'])} {where}; {source}; "
            f"learning rates x{self.lr_factor:g}: {lrs} (restore {self.restores} of at most {self.max_restores})."
        )
        event.update(action="restored", restored_step=step, learning_rates=after, message=message)
        self.events.append(event)
        self._report({"policy": self.policy, "action": "restored", "events": self.events})
        print(message, file=sys.stderr, flush=True)
        raise RolledBack(message, step)

    def _stop(self, event, where):
        self.model.stop_training = True
        state_path = last_step = last_logs = None
        if self._last is not None:
            values, last_step, last_logs = self._last
            self._snap.assign(values)  # the live model holds the last finite state too
            os.makedirs(os.path.join(self.run_dir, "nan_state"), exist_ok=True)
            # Create the save counter if new: restoring into a tf.train.Checkpoint expects it in the file.
            self.checkpointer.checkpoint.save_counter  # noqa: B018
            state_path = self.checkpointer.checkpoint.write(
                os.path.join(self.run_dir, "nan_state", f"ckpt-{last_step}")
            )
        prefix = f"after {self.restores} restore(s), " if self.restores else ""
        if "restore_error" in event:
            prefix = f"could not restore ({event['restore_error'].splitlines()[0]}), " + prefix
        saved = (
            f"last finite state (generator step {last_step}) saved to {state_path}" if state_path
            else "no finite state to save (the model was not finite when training started)"
        )
        message = (
            f"{prefix}NaN/Inf in {', '.join(event['non_finite'])} {where}; {saved}; "
            f"report {self.report_path}"
        )
        event.update(action="stopped", message=message)
        self.events.append(event)
        self._report({
            "policy": self.policy,
            "action": "stopped",
            "generator_step": event["generator_step"],
            "non_finite": event["non_finite"],
            "logs": event["logs"],
            "steps_per_execution": self._spe,
            "last_finite_step": last_step,
            "last_finite_logs": _jsonable(last_logs) if last_logs is not None else None,
            "nan_state": state_path,
            "restores": self.restores,
            "events": self.events,
            "message": message,
        })
        # Not printed here: the exception carries the message, and whoever catches it shows it (once).
        raise NonFiniteLossError(message, event["generator_step"], event["non_finite"], self.report_path, state_path)

    def _report(self, obj):
        os.makedirs(self.run_dir, exist_ok=True)
        _write_json(self.report_path, obj)
