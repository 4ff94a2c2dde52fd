"""TensorFlow's start-up noise, silenced for the command lines (call :func:`quiet_tensorflow` before TF loads).

On a machine without a GPU, TensorFlow prints lines that look like failures
but are not: ``Could not find cuda drivers``, ``failed call to cuInit ...
UNKNOWN ERROR (303)``, ``oneDNN custom operations are on``, the
``cpu_feature_guard`` advice, and "All log messages before
absl::InitializeLog() is called are written to STDERR".  Where they come from:

- TensorFlow's C++ logging obeys ``TF_CPP_MIN_LOG_LEVEL`` (0 all, 1 no INFO,
  2 no WARNING, 3 no ERROR) once its log is initialised.  We default to **1**:
  INFO lines go (``cpu_feature_guard``, device placement chatter), warnings
  and errors stay, because on a GPU machine they are what tells a user that
  CUDA or cuDNN failed to load and training fell back to the CPU.
- The oneDNN and ``cudart_stub`` lines are INFO lines written while the
  libraries load, *before* that log is initialised, so no level hides them:
  while TensorFlow is imported, the process's stderr (file descriptor 2, which
  C++ writes to) goes to a temporary file; afterwards every line is written
  back except INFO lines below the level and absl's "before InitializeLog" notice.
- ``failed call to cuInit`` is an ERROR logged when TensorFlow first looks
  for devices.  It is dropped only on a machine with no NVIDIA driver
  (``/proc/driver/nvidia`` and ``/dev/nvidiactl`` absent), where no GPU can be
  used and the line says nothing; there, devices are listed during the import
  (inside the window above), which TensorFlow would do at the first op anyway.

A ``TF_CPP_MIN_LOG_LEVEL`` you set yourself wins; ``TF_CPP_MIN_LOG_LEVEL=0``
shows everything (nothing is dropped), e.g.
``TF_CPP_MIN_LOG_LEVEL=0 python bin/train.py ...``.  This module imports
nothing heavy; the filter only runs when (and if) TensorFlow is imported.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

from dat_tf.lazy import around_import

DEFAULT_LEVEL = "1"

# glog / absl line prefix: severity letter, MMDD, time, thread id, file:line]
_PREFIX = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ [^\]]*\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# The second line of cpu_feature_guard's INFO message (its first line carries the prefix).
_CONTINUATION = re.compile(r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler")
_CUINIT = re.compile(r"failed call to cuInit")


def has_nvidia_driver() -> bool:
    """Whether an NVIDIA kernel driver is present (so CUDA messages may matter)."""
    return os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidiactl")


def keep_line(line: str, level: int, gpu_possible: bool) -> bool:
    """Whether a line TensorFlow wrote to stderr while loading is shown.

    Args:
      line: one line, without its newline.
      level: the ``TF_CPP_MIN_LOG_LEVEL`` in force (lines below it go).
      gpu_possible: whether CUDA errors may matter (see :func:`has_nvidia_driver`).
    """
    if level <= 0:
        return True
    if line.strip() == _ABSL_NOTICE or _CONTINUATION.match(line):
        return False
    match = _PREFIX.match(line)
    if match is None:
        return True  # not a TensorFlow log line: Python warnings, tracebacks... always shown
    if _SEVERITY[match.group(1)] < level:
        return False
    return gpu_possible or not _CUINIT.search(line)


def _level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _filtered_import(load):
    """Runs TensorFlow's import (and, without a GPU driver, its device listing) with stderr filtered."""
    level, gpu_possible = _level(), has_nvidia_driver()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            load()
            if not gpu_possible:
                # cuInit is attempted (and fails) at the first device listing: do it here, filtered.
                sys.modules["tensorflow"].config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if keep_line(line, level, gpu_possible)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


def quiet_tensorflow() -> None:
    """Silences TensorFlow's CPU-only start-up lines; call it before TensorFlow is imported.

    Sets ``TF_CPP_MIN_LOG_LEVEL`` to 1 unless you set it, and filters what
    TensorFlow writes while it loads (see the module docstring).  Does
    nothing when ``TF_CPP_MIN_LOG_LEVEL=0`` or when TensorFlow is already imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)
    if _level() > 0:
        around_import("tensorflow", _filtered_import)
