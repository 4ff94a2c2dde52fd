#!/usr/bin/env python
"""``dat-figure3`` from a checkout, without installing: see dat_study/commands/figure3.py (``--help``)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_study.commands.figure3 import run  # noqa: E402

if __name__ == "__main__":
    run()
