#!/usr/bin/env python
"""``dat-results`` from a checkout, without installing: see dat_study/commands/results.py (``--help``)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_study.commands.results import run  # noqa: E402

if __name__ == "__main__":
    run()
