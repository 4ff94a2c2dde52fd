"""Result files written whole or not at all, as strict JSON.

A study, a NaN report or a metrics file may be read while it is written (a
second process, a resumed study) or be cut short by a crash.  Every writer
here goes through :func:`atomic_writer`: the bytes go to a temporary file in
the same folder, which is flushed, ``fsync``-ed and renamed over the target
(``os.replace``, atomic on POSIX and Windows), and the folder is ``fsync``-ed
so the rename survives a power loss.  A reader sees the old file or the new
one, never half of one.

JSON is strict: NaN and +-Inf, which ``json.dumps`` would write as the
non-standard tokens ``NaN``/``Infinity`` that many readers reject, are written
as ``null``; numpy scalars and arrays are written as numbers and lists.

Example:

>>> import tempfile, os, json
>>> path = os.path.join(tempfile.mkdtemp(), "r.json")
>>> _ = write_json_atomic(path, {"fid": float("nan"), "kid": 0.5})
>>> open(path).read()
'{"fid": null, "kid": 0.5}'
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid

import numpy as np


def strict(obj):
    """``obj`` with non-finite floats replaced by ``None`` and numpy values made Python ones.

    Dicts (keys kept), lists and tuples (both become lists) are walked;
    anything else is returned as is.
    """
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return strict(obj.tolist())
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def dumps(obj, *, indent=None, sort_keys=False) -> str:
    """Strict JSON text of ``obj`` (see :func:`strict`); raises ``TypeError`` for what JSON cannot hold."""
    return json.dumps(strict(obj), indent=indent, sort_keys=sort_keys, allow_nan=False)


def fsync_path(path: str, directory: bool = False):
    """Best-effort ``fsync`` of a file, or of a folder (its entries) with ``directory=True``."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return  # e.g. Windows: directories cannot be opened; a rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path, mode: str = "w"):
    """Context manager yielding a file object whose content replaces ``path`` on a clean exit.

    The parent folder must exist.  On an exception inside the block the
    temporary file is removed and ``path`` is left as it was.  The file gets
    the usual permissions (``0o666`` minus the umask), as ``open`` would.

    Args:
      path: the file to (re)place.
      mode: ``"w"`` (text, UTF-8) or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}.")
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: the folder {folder!r} does not exist.")
    tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    fsync_path(folder, directory=True)


def write_text_atomic(path, text: str) -> str:
    """Writes ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_writer(path, "w") as f:
        f.write(text)
    return os.fspath(path)


def write_json_atomic(path, obj, *, indent=None, sort_keys=False) -> str:
    """Writes ``obj`` as strict JSON (NaN/Inf as ``null``, no trailing newline) atomically; returns ``path``."""
    return write_text_atomic(path, dumps(obj, indent=indent, sort_keys=sort_keys))


def write_jsonl_atomic(path, rows) -> str:
    """Writes one strict JSON object per line (each line ends in a newline) atomically; returns ``path``."""
    return write_text_atomic(path, "".join(dumps(row) + "\n" for row in rows))
