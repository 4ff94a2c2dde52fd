"""A run folder belongs to one run: its config is fixed when it starts, and one process writes it at a time.

* ``config.json`` is written once, when a run starts (once its model and
  data are built: a run that fails before leaves none), and never overwritten.
  A rerun compares its config with the stored one: the fields in
  :data:`MAY_CHANGE` only say how long or how often (and where the folder is),
  so they may differ, and each such change is appended to ``history.jsonl``;
  any other difference is refused with :class:`RunConfigMismatch`, which lists
  the fields and the two ways on (another ``--run_dir``, or ``--overwrite``
  to start the folder over).
* :class:`RunLock` is an advisory lock (``fcntl.flock`` on ``run_dir/.lock``)
  held by the chief for the whole run; a second process is refused with
  :class:`RunLockedError` naming the holder.  The kernel drops the lock when
  its process dies, so the lock of a dead process is simply taken over (and
  reported).

Example:

>>> with RunLock("runs/x"):  # doctest: +SKIP
...     claim = check_run(cfg)  # refuses another config; writes nothing
...     ...  # build the model and the data
...     changes = claim.commit()  # config.json, or the history of allowed changes
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import sys

from dat_tf.files import dumps, write_json_atomic, write_text_atomic
from dat_tf.train.config import TrainConfig, upgrade_dict
from dat_tf.train.export import EXPORTS

CONFIG = "config.json"
HISTORY = "history.jsonl"
LOCK = ".lock"

MAY_CHANGE = ("n_iter", "log_every", "checkpoint_every", "metrics_every", "sample_every", "keep_checkpoints",
              "verbose", "steps_per_execution", "run_dir")
"""Fields a rerun may change: how long, how often, how verbose, and where the folder is."""

# What train() writes into a run folder; --overwrite removes exactly these.
RUN_FILES = (CONFIG, HISTORY, "checkpoints", "logs", *EXPORTS, "nan_state", "nan_report.json")


class RunConfigMismatch(ValueError):
    """A rerun's config differs from the run's stored one in a field that defines the run."""


class RunLockedError(RuntimeError):
    """Another live process holds the run folder."""


class RunDirNotWritableError(PermissionError):
    """The run folder cannot be created or written (permissions, a read-only disk, a file in the way)."""


def not_writable(run_dir: str, e: OSError) -> RunDirNotWritableError:
    """The :class:`RunDirNotWritableError` for ``e``, raised while writing ``run_dir``."""
    what = f"{type(e).__name__}: {e.strerror or e}" + (f" ({e.filename})" if e.filename else "")
    return RunDirNotWritableError(
        f"cannot write to the run folder {run_dir} ({what}); use a --run_dir you can write to, or fix its "
        "permissions."
    )


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def config_differences(stored: dict, cfg: TrainConfig) -> tuple[list, list]:
    """``(refused, allowed)``: lists of ``(field, stored value, new value)`` between a stored config and ``cfg``."""
    # Compared as stored (JSON): a tuple default and the list it is read back as are the same value.
    stored = json.loads(dumps(upgrade_dict(stored)))
    now = json.loads(dumps(cfg.resolved().to_dict()))
    refused, allowed = [], []
    for key in sorted(set(stored) | set(now)):
        old, new = stored.get(key, "<missing>"), now.get(key, "<missing>")
        if old != new:
            (allowed if key in MAY_CHANGE else refused).append((key, old, new))
    return refused, allowed


class RunClaim:
    """What :func:`check_run` decided, written by :meth:`commit` once the run can start.

    Attributes:
      path: the run's ``config.json``.
      config: the config dict to write (a new folder), or ``None`` (it is there).
      allowed: the allowed changes, ``(field, stored, new)`` tuples, appended to
        ``history.jsonl`` by :meth:`commit`.
    """

    def __init__(self, out_dir: str, config, allowed: list):
        self.out_dir = out_dir
        self.path = os.path.join(out_dir, CONFIG)
        self.config = config
        self.allowed = allowed
        self.committed = False

    def commit(self) -> list:
        """Writes ``config.json`` (a new run) or the history record (allowed changes); returns ``allowed``."""
        if self.committed:
            return self.allowed
        os.makedirs(self.out_dir, exist_ok=True)
        if self.config is not None:
            write_json_atomic(self.path, self.config, indent=2, sort_keys=True)
        elif self.allowed:
            record = {"time": _now(), "changes": {k: {"run": old, "now": new} for k, old, new in self.allowed}}
            history = os.path.join(self.out_dir, HISTORY)
            previous = open(history, encoding="utf-8").read() if os.path.exists(history) else ""
            write_text_atomic(history, previous + dumps(record) + "\n")
        self.committed = True
        return self.allowed


def check_run(cfg: TrainConfig, out_dir: str | None = None, overwrite: bool = False) -> RunClaim:
    """Checks that ``out_dir`` (default ``cfg.run_dir``) can hold ``cfg``'s run; writes nothing yet.

    An existing ``config.json`` is compared with ``cfg``
    (:func:`config_differences`): any change outside :data:`MAY_CHANGE`
    raises :class:`RunConfigMismatch`, unless ``overwrite``, which first
    removes what a run writes (:data:`RUN_FILES`) and starts over.  The
    returned claim's :meth:`RunClaim.commit` writes ``config.json`` (or the
    history record) once the run is built: a run that fails before it (a
    missing dataset, a restore refused) leaves no config behind to refuse
    the corrected rerun.
    """
    out_dir = out_dir or cfg.run_dir
    path = os.path.join(out_dir, CONFIG)
    if overwrite:
        for name in RUN_FILES:
            target = os.path.join(out_dir, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            elif os.path.exists(target):
                os.remove(target)
    if not os.path.exists(path):
        return RunClaim(out_dir, cfg.resolved().to_dict(), [])
    try:
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
    except ValueError as e:
        raise RunConfigMismatch(
            f"{path} is not valid JSON ({e}), so this run cannot be checked against it: use another --run_dir, "
            "or --overwrite to start the folder over."
        ) from None
    refused, allowed = config_differences(stored, cfg)
    if refused:
        lines = "\n".join(f"  --{k}: {old!r} in the run, {new!r} now" for k, old, new in refused)
        raise RunConfigMismatch(
            f"{out_dir} holds a run with another configuration:\n{lines}\n"
            f"Only {', '.join(MAY_CHANGE[:-1])} may change when a run is continued. Use another --run_dir for "
            f"a new run, or --overwrite to delete this run and start over."
        )
    return RunClaim(out_dir, None, allowed)


class RunLock:
    """Context manager: an advisory, exclusive lock on ``run_dir`` for this process.

    Raises :class:`RunLockedError` on entry if a live process holds it, and
    :class:`RunDirNotWritableError` if ``run_dir`` cannot be written.  Not
    available (a no-op) where ``fcntl`` is not (Windows).

    Attributes:
      took_over: the holder recorded by a process that died with the lock
        (``None`` if the lock was free and clean).
    """

    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, LOCK)
        self.took_over = None
        self._file = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        try:
            os.makedirs(self.run_dir, exist_ok=True)
            f = open(self.path, "a+", encoding="utf-8")
        except OSError as e:
            raise not_writable(self.run_dir, e) from e
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise RunLockedError(
                f"{self.run_dir} is in use by {holder}; wait for it to finish, or use another --run_dir."
            ) from None
        f.seek(0)
        left = f.read().strip()
        if left:
            self.took_over = left
            print(f"{self.run_dir}: took over the lock left by {left} (no longer running).", file=sys.stderr)
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on {socket.gethostname()} since {_now()}\n")
        f.flush()
        self._file = f
        return self

    def __exit__(self, *exc):
        if self._file is not None:
            import fcntl

            self._file.seek(0)
            self._file.truncate()  # a clean release leaves an empty file: nothing to take over
            self._file.flush()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        return False
