"""Checkpoints of a GAN run, and resuming from them.

Design notes: docs/design.md, "Checkpoints and resuming".
"""

from __future__ import annotations

import os
import re
import sys

import keras
import tensorflow as tf

from dat_tf.files import fsync_path
from dat_tf.keras_adapter import learning_rate_source
from dat_tf.train.schedules import ScaledSchedule, crossed, make_scalable
from dat_tf.train.stop_signals import Interrupted

_CKPT_FILE = re.compile(r"^ckpt-(\d+)\.(index|data-\d{5}-of-\d{5})$")


class CheckpointRestoreError(RuntimeError):
    """Checkpoints exist but none could be restored.

    Attributes:
      tried: ``[(path, reason), ...]`` newest first.
    """

    def __init__(self, message: str, tried):
        super().__init__(message)
        self.tried = list(tried)


def lr_scales(gan) -> dict:
    """``{"d_lr_scale": variable, "g_lr_scale": variable}`` of the optimizers
    whose learning rate is a :class:`dat_tf.train.schedules.ScaledSchedule`
    (a float rate is an optimizer variable already)."""
    out = {}
    for role in ("d", "g"):
        opt = getattr(gan, f"{role}_optimizer")
        rate = learning_rate_source(opt)
        if isinstance(rate, ScaledSchedule):
            out[f"{role}_lr_scale"] = rate.scale
    return out


def state_variables(gan) -> list:
    """Every variable a checkpoint restores: the GAN's weights (``g_steps``
    included), both optimizers' variables and the learning-rate scales
    (:func:`lr_scales`), without duplicates."""
    seen, out = set(), []
    for v in [*gan.weights, *gan.d_optimizer.variables, *gan.g_optimizer.variables, *lr_scales(gan).values()]:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


class StateSnapshot:
    """In-memory copies of ``variables``, taken by one compiled function.

    ``take()`` returns ``(values, all_finite)``: tensors holding the variables'
    values at the call (on their devices; TensorFlow copies a variable's
    buffer before updating it while a read of it is alive, so later training
    steps do not change them) and whether every floating-point value is
    finite.  ``assign(values)`` writes them back; ``all_finite()`` only checks.
    """

    def __init__(self, variables):
        self.variables = list(variables)
        self._raw = [v.value if isinstance(v, keras.Variable) else v for v in self.variables]
        self._fn = tf.function(self._read, autograph=False)
        self._finite_fn = tf.function(lambda: self._finite(self._raw), autograph=False)

    @staticmethod
    def _finite(values):
        checks = [tf.reduce_all(tf.math.is_finite(x)) for x in values if x.dtype.is_floating]
        return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)

    def _read(self):
        values = [tf.identity(v) for v in self._raw]
        return values, self._finite(values)

    def take(self):
        values, finite = self._fn()
        return list(values), bool(finite)

    def all_finite(self) -> bool:
        """Whether every floating-point value is finite now (nothing copied or kept)."""
        return bool(self._finite_fn())

    def assign(self, values):
        for v, x in zip(self.variables, values):
            v.assign(x)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    out = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return out if len(out) <= 300 else out[:297] + "..."


def _is_local(path: str) -> bool:
    return "://" not in path


class RunCheckpointer:
    """Saves and restores one :class:`dat_tf.gan.GAN` under ``directory``.

    A learning-rate schedule of ``gan``'s optimizers is wrapped in a
    :class:`dat_tf.train.schedules.ScaledSchedule` (scale 1: the same rates)
    whose scale the checkpoints hold; a checkpoint written before scales were
    saved restores with scale 1.

    Args:
      gan: a compiled GAN (optimizers built).
      directory: where checkpoints go (created).
      keep: how many checkpoints to keep (>= 1).

    After :meth:`restore_latest`: ``restored_path`` (``None`` if there was
    nothing to restore), ``skipped`` (``[(path, reason)]``) and
    ``restore_summary`` (one line for the log).
    """

    def __init__(self, gan, directory: str, keep: int = 3):
        if gan.d_optimizer is None:
            raise ValueError("RunCheckpointer needs a compiled GAN (call gan.compile first).")
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an integer >= 1, got {keep!r}.")
        self.gan = gan
        self.directory = os.fspath(directory)
        with gan.distribute_strategy.scope():  # the scale variables are mirrored like the model's
            wrapped = [make_scalable(opt) for opt in (gan.d_optimizer, gan.g_optimizer)]
        if any(wrapped):
            gan.train_function = None  # one traced before holds the unwrapped schedule
        self.lr_scales = lr_scales(gan)
        self.checkpoint = tf.train.Checkpoint(
            model=gan, d_optimizer=gan.d_optimizer, g_optimizer=gan.g_optimizer, **self.lr_scales
        )
        self._state_note = ""
        try:
            self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=keep)
        except Exception as e:  # a state file TensorFlow cannot even decode (it ignores unparsable ones)
            state = self._state_file()
            if not tf.io.gfile.exists(state):
                raise
            aside = state + ".unreadable"
            tf.io.gfile.rename(state, aside, overwrite=True)
            self._state_note = f"the state file {state} is unreadable ({_reason(e)}; moved to {aside})"
            print(f"Checkpoints: {self._state_note}; using the ckpt-N files on disk.", file=sys.stderr, flush=True)
            self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=keep)
        self.restored_path = None
        self.skipped = []
        self.restore_summary = ""
        self._finite = None

    @property
    def latest(self) -> str | None:
        """The newest checkpoint the state file names (not checked for readability)."""
        return self.manager.latest_checkpoint

    def step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.gan.g_steps))

    def state_is_finite(self) -> bool:
        """Whether every floating-point variable a checkpoint holds is finite (one compiled check)."""
        if self._finite is None:
            self._finite = StateSnapshot(state_variables(self.gan)).all_finite
        return self._finite()

    # ------------------------------------------------------------------ saving

    def save(self) -> str:
        """Writes a checkpoint numbered by the generator step; returns its path.

        The files are fsynced before the state file names them, and the state
        file before this returns (local paths; see the module docstring).
        """
        if not _is_local(self.directory):
            return self.manager.save(checkpoint_number=self.step())
        options = tf.train.CheckpointOptions(experimental_write_callbacks=[self._make_durable])
        path = self.manager.save(checkpoint_number=self.step(), options=options)
        fsync_path(os.path.join(self.directory, "checkpoint"))
        fsync_path(self.directory, directory=True)
        return path

    @staticmethod
    def _make_durable(save_path):
        prefix = os.fspath(save_path)
        for name in tf.io.gfile.glob(prefix + ".data-*") + [prefix + ".index"]:
            fsync_path(name)
        fsync_path(os.path.dirname(prefix) or ".", directory=True)

    # --------------------------------------------------------------- restoring

    def _state_file(self) -> str:
        return os.path.join(self.directory, "checkpoint")

    def _on_disk(self) -> dict:
        """``{prefix: step}`` of the ``ckpt-N`` files present in the directory."""
        found = {}
        if tf.io.gfile.isdir(self.directory):
            for name in tf.io.gfile.listdir(self.directory):
                m = _CKPT_FILE.match(name)
                if m:
                    found[os.path.join(self.directory, f"ckpt-{m.group(1)}")] = int(m.group(1))
        return found

    def _listed(self):
        """``(paths newest first, problem)``: the checkpoints the state file names, newest save first."""
        state_file = self._state_file()
        if not tf.io.gfile.exists(state_file):
            return [], self._state_note
        try:
            state = tf.train.get_checkpoint_state(self.directory)
        except Exception as e:  # noqa: BLE001 - e.g. bytes that are not UTF-8
            return [], f"the state file {state_file} is unreadable ({_reason(e)})"
        if state is None:
            return [], f"the state file {state_file} is unreadable (it does not parse)"
        paths = list(reversed(state.all_model_checkpoint_paths))
        latest = state.model_checkpoint_path
        if latest:
            paths = [latest] + [p for p in paths if p != latest]
        return paths, ""

    def candidates(self) -> list[str]:
        """Checkpoints to try, newest first: the state file's (by save order),
        then unlisted ``ckpt-N`` files on disk (by ``N``)."""
        listed, _ = self._listed()
        known = {os.path.normpath(p) for p in listed}
        disk = self._on_disk()
        extra = sorted((p for p in disk if os.path.normpath(p) not in known), key=disk.get, reverse=True)
        return listed + extra

    def has_checkpoints(self) -> bool:
        """Whether the state file names a checkpoint or any ``ckpt-N`` file exists."""
        return bool(self.candidates())

    def restore(self, path: str) -> int:
        """Restores checkpoint ``path`` (a prefix) into every variable; returns the generator step.

        Raises if a file is missing or unreadable, or if any variable of the
        model or the optimizers gets no value from it.
        """
        path = os.fspath(path)
        if not tf.io.gfile.exists(path + ".index"):
            raise FileNotFoundError(f"index file {path}.index is missing")
        if not tf.io.gfile.glob(path + ".data-*"):
            raise FileNotFoundError(f"no data file {path}.data-* (the index is there)")
        status = self.checkpoint.restore(path)
        try:
            status.assert_existing_objects_matched()
        except AssertionError:
            names = {name for name, _ in tf.train.list_variables(path)}
            if not self.lr_scales or any(f"{k}/.ATTRIBUTES/VARIABLE_VALUE" in names for k in self.lr_scales):
                raise
            # Written before learning-rate scales were saved: everything else must match; the scale is 1.
            gan = self.gan
            older = tf.train.Checkpoint(model=gan, d_optimizer=gan.d_optimizer, g_optimizer=gan.g_optimizer)
            older.restore(path).assert_existing_objects_matched()
            for v in self.lr_scales.values():
                v.assign(1.0)
        return self.step()

    def restore_latest(self) -> int:
        """Restores the newest readable checkpoint; returns the generator step (0 if none exists).

        Unreadable ones are skipped with a message on stderr naming the path and
        the reason (see the module docstring); if checkpoints exist and none
        loads, raises :class:`CheckpointRestoreError` and leaves the model as it was.
        """
        self.restored_path, self.skipped = None, []
        candidates = self.candidates()
        if not candidates:
            self.restore_summary = f"no checkpoint in {self.directory}"
            return 0
        _, problem = self._listed()
        note = f" ({problem}; used the ckpt-N files on disk)" if problem else ""
        variables = state_variables(self.gan)
        before = [keras.ops.convert_to_numpy(v) for v in variables]  # put back if nothing loads
        for path in candidates:
            try:
                step = self.restore(path)
            except Exception as e:  # any failure means: this checkpoint cannot be resumed from
                reason = _reason(e)
                self.skipped.append((path, reason))
                print(f"Checkpoint {path} is unreadable, skipping it: {reason}", file=sys.stderr, flush=True)
                continue
            self.restored_path = path
            parts = [f"resumed from {path} (generator step {step}){note}"]
            parts += [f"skipped {p}: {r}" for p, r in self.skipped]
            self.restore_summary = "; ".join(parts)
            return step
        for v, x in zip(variables, before):
            v.assign(x)
        lines = "\n  ".join(f"{p}: {r}" for p, r in self.skipped)
        self.restore_summary = f"no checkpoint could be restored from {self.directory}"
        raise CheckpointRestoreError(
            f"None of the {len(self.skipped)} checkpoint(s) in {self.directory} could be restored{note}; "
            f"not starting over from scratch. Tried, newest first:\n  {lines}\n"
            "Repair or remove them (or use another run_dir) to start a new run.",
            self.skipped,
        )


class CheckpointCallback(keras.callbacks.Callback):
    """Saves at every multiple of ``every`` generator steps, and at the end; never a state holding a NaN/Inf.

    Why batch ends: Keras calls them after every execution (``steps_per_execution``
    steps), so a checkpoint lands on the multiple itself when executions end
    there (:func:`dat_tf.train.loop.train` makes them), whatever the epochs are;
    else at the first execution end past it.  A state with a NaN/Inf (an update
    that overflowed while the losses were finite) is not written, with a line on
    stderr: the NaN guard deals with it, and the newest checkpoint stays finite.
    ``save_at_end=False`` (a ``fit`` that is one piece of a longer run) saves at
    the end only if a callback stopped training there.  With ``stop`` (a
    :class:`dat_tf.train.stop_signals.StopRequest`), a SIGINT or SIGTERM it
    recorded saves the step reached at the next execution or epoch end and
    raises :class:`dat_tf.train.stop_signals.Interrupted`.

    Args:
      checkpointer: the run's :class:`RunCheckpointer`.
      every: generator steps between checkpoints (0: only at the end).
      save_at_end: save when ``fit`` ends.
      stop: a ``StopRequest`` to act on, or ``None``.

    Example:

    >>> cb = CheckpointCallback(RunCheckpointer(gan, "run/checkpoints"), every=1000)  # doctest: +SKIP
    >>> gan.fit(ds, steps_per_epoch=500, epochs=20, callbacks=[cb])  # doctest: +SKIP
    """

    def __init__(self, checkpointer: RunCheckpointer, every: int, save_at_end: bool = True, stop=None):
        super().__init__()
        if not isinstance(every, int) or isinstance(every, bool) or every < 0:
            raise ValueError(f"every must be an integer >= 0, got {every!r}.")
        self.checkpointer = checkpointer
        self.every = every
        self.save_at_end = save_at_end
        self.stop = stop
        self._last = None
        self._saved = (None, None)  # (step, path) of the newest save of this callback

    def save(self) -> str | None:
        """Writes a checkpoint of the current step; returns its path (``None``: not written, NaN/Inf)."""
        step = self.checkpointer.step()
        self._last = step
        if not self.checkpointer.state_is_finite():
            print(f"Checkpoints: generator step {step} is not saved: the model holds a NaN/Inf.", file=sys.stderr,
                  flush=True)
            path = None
        else:
            path = self.checkpointer.save()
        self._saved = (step, path)
        return path

    def _stop_if_asked(self):
        if self.stop is None or self.stop.signum is None:
            return
        step = self.checkpointer.step()
        path = self._saved[1] if self._saved[0] == step else self.save()
        raise Interrupted(self.stop.signum, step, path)

    def _on_cadence(self):
        if self.every and crossed(self._last, self.checkpointer.step(), self.every):
            self.save()

    def on_train_begin(self, logs=None):
        self._last = self.checkpointer.step()
        self._stop_if_asked()

    def on_train_batch_end(self, batch, logs=None):
        self._on_cadence()
        self._stop_if_asked()

    def on_epoch_end(self, epoch, logs=None):
        self._on_cadence()  # after the batch end of the same step: saves only if that one could not see the step
        self._stop_if_asked()  # a signal during the other callbacks' epoch-end work (e.g. metrics)

    def on_train_end(self, logs=None):
        if not (self.save_at_end or getattr(self.model, "stop_training", False)):
            return
        if self.checkpointer.step() != self._last or self.checkpointer.latest is None:
            self.save()
