#!/usr/bin/env python
"""``dat-train-digits-classifier`` from a checkout, without installing: see dat_tf/commands/train_digits_classifier.py (``--help``)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_tf.commands.train_digits_classifier import run  # noqa: E402

if __name__ == "__main__":
    run()
