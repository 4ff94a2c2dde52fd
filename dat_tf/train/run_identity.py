"""A run folder belongs to one run: its config is fixed when it starts, and one process writes it at a time.

* ``config.json`` is written once, when a run starts, and never overwritten.
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
...     changes = claim_run(cfg)
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

CONFIG = "config.json"
HISTORY = "history.jsonl"
LOCK = ".lock"

MAY_CHANGE = ("n_iter", "log_every", "checkpoint_every", "metrics_every", "sample_every", "keep_checkpoints",
              "verbose", "steps_per_execution", "run_dir")
"""Fields a rerun may change: how long, how often, how verbose, and where the folder is."""

# What train() writes into a run folder; --overwrite removes exactly these.
RUN_FILES = (CONFIG, HISTORY, "checkpoints", "logs", "gan.keras", "generator.keras", "generator_savedmodel",
             "nan_state", "nan_report.json")


class RunConfigMismatch(ValueError):
    """A rerun's config differs from the run's stored one in a field that defines the run."""


class RunLockedError(RuntimeError):
    """Another live process holds the run folder."""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def config_differences(stored: dict, cfg: TrainConfig) -> tuple[list, list]:
    """``(refused, allowed)``: lists of ``(field, stored value, new value)`` between a stored config and ``cfg``."""
    stored = upgrade_dict(stored)
    now = cfg.to_dict()
    refused, allowed = [], []
    for key in sorted(set(stored) | set(now)):
        old, new = stored.get(key, "<missing>"), now.get(key, "<missing>")
        if old != new:
            (allowed if key in MAY_CHANGE else refused).append((key, old, new))
    return refused, allowed


def claim_run(cfg: TrainConfig, out_dir: str | None = None, overwrite: bool = False) -> list:
    """Makes ``out_dir`` (default ``cfg.run_dir``) the folder of ``cfg``'s run, before any work.

    A new folder gets ``config.json``.  An existing one is compared with
    ``cfg`` (:func:`config_differences`): changes of :data:`MAY_CHANGE` fields
    are appended to ``history.jsonl`` and returned; any other change raises
    :class:`RunConfigMismatch`, unless ``overwrite``, which first removes what
    a run writes (:data:`RUN_FILES`) and starts over.

    Returns:
      the allowed changes, as ``(field, stored, new)`` tuples.
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
    os.makedirs(out_dir, exist_ok=True)
    if not os.path.exists(path):
        write_json_atomic(path, cfg.to_dict(), indent=2, sort_keys=True)
        return []
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
    if allowed:
        record = {"time": _now(), "changes": {k: {"run": old, "now": new} for k, old, new in allowed}}
        history = os.path.join(out_dir, HISTORY)
        previous = open(history, encoding="utf-8").read() if os.path.exists(history) else ""
        write_text_atomic(history, previous + dumps(record) + "\n")
    return allowed


class RunLock:
    """Context manager: an advisory, exclusive lock on ``run_dir`` for this process.

    Raises :class:`RunLockedError` on entry if a live process holds it.  Not
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
        os.makedirs(self.run_dir, exist_ok=True)
        f = open(self.path, "a+", encoding="utf-8")
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
