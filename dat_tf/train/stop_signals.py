"""Ctrl-C and SIGTERM during training: save the step reached, then stop.

Why: SIGTERM is what schedulers and cloud preemption send, and by default it
ends the process at once, losing the steps since the last checkpoint.  While a
:class:`StopRequest` is installed the first SIGINT or SIGTERM is only recorded;
:class:`dat_tf.train.checkpoints.CheckpointCallback` sees it at the next
execution end (Python runs signal handlers between the compiled calls, not inside
one), saves a checkpoint of that generator step and raises :class:`Interrupted`.
A second signal interrupts at once, without saving.

Design notes: docs/design.md, "Checkpoints and resuming" (Stopping on a signal).

Example:

>>> with StopRequest() as stop:  # doctest: +SKIP
...     gan.fit(ds, callbacks=[CheckpointCallback(checkpointer, 1000, stop=stop)])
"""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def describe(signum: int) -> str:
    """``"interrupted (Ctrl-C)"`` or ``"terminated (SIGTERM)"``: how a message names the stop."""
    return "interrupted (Ctrl-C)" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"


class Interrupted(KeyboardInterrupt):
    """A signal stopped training (a ``KeyboardInterrupt``, so that it still stops a program).

    Attributes:
      signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
      step: the generator step reached (``None``: before training started).
      path: the checkpoint saved at ``step`` (``None``: none was written).
    """

    def __init__(self, signum: int, step: int | None = None, path: str | None = None):
        super().__init__(signum, step, path)
        self.signum, self.step, self.path = signum, step, path

    def __str__(self):
        return ""  # the caller, who knows the run, says where it stands


def raise_interrupted(signum, frame):
    """A signal handler: :class:`Interrupted` at once (e.g. SIGTERM before training starts)."""
    raise Interrupted(signum)


class StopRequest:
    """Records the first SIGINT or SIGTERM while installed (a context manager); the second interrupts at once.

    Installed only in the main thread (where Python delivers signals), and not over a
    signal that is ignored (``SIG_IGN``, e.g. SIGINT in a background job), which stays
    ignored.  On exit the previous handlers are put back.

    Attributes:
      signum: the signal received (``None``: none yet).
    """

    def __init__(self):
        self.signum = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        self._previous = {}
        return False

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise Interrupted(signum)  # asked twice: stop now, without saving
        self.signum = signum
