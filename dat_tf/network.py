"""One bounded probe of the network, so that a command that would download fails in seconds offline.

Why: tfds and TF-Hub retry for minutes without network (tfds leaves ``.tmp`` files behind).  Asking
the download host for a TCP connection first, with a hard time limit, tells at once whether a
download can work; the dataset and Inception loaders then either download or raise their own
"not on this machine" error naming what to do.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse


def reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether ``url``'s host accepts a TCP connection within ``timeout`` seconds (DNS included).

    The probe runs in a daemon thread, so a resolver that hangs cannot block longer.  With the
    environment variable ``DAT_TF_OFFLINE=1`` nothing is probed and the answer is ``False``: a machine
    (or a test) that must never reach out says so once.

    Args:
      url: e.g. ``"https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"``.
      timeout: the whole probe's limit in seconds.

    Example:

    >>> reachable("not a url", timeout=0.1)
    False
    """
    if os.environ.get("DAT_TF_OFFLINE", "") not in ("", "0"):
        return False
    parsed = urllib.parse.urlparse(url)
    if not parsed.hostname:
        return False
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result = []

    def probe():
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])
