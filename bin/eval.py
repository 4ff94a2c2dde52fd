#!/usr/bin/env python
"""``dat-eval`` from a checkout, without installing: see dat_tf/commands/eval.py (``--help``)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_tf.commands.eval import run  # noqa: E402

if __name__ == "__main__":
    run()
