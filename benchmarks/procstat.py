"""This process's memory, read from Linux's ``/proc`` and ``getrusage``: the standard library only.

``benchmarks/first_step.py`` also runs it as the worker inside the PyTorch peers' virtual environment, so this module
imports nothing outside the standard library.
"""

from __future__ import annotations

import resource


def rss_mib() -> float:
    """This process's resident memory now (``VmRSS``), MiB; NaN where ``/proc`` has no such line."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    """This process's peak resident memory so far, MiB (``ru_maxrss`` is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
