#!/usr/bin/env python
"""``dat-train`` from a checkout, without installing: see dat_tf/commands/train.py (``--help``)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_tf.commands.train import run  # noqa: E402

if __name__ == "__main__":
    run()
