#!/usr/bin/env python
"""``dat-attack`` from a checkout, without installing: see dat_tf/commands/attack.py (``--help``)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_tf.commands.attack import run  # noqa: E402

if __name__ == "__main__":
    run()
