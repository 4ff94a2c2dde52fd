#!/usr/bin/env python
"""Trains one GAN run.  Every flag is a field of ``dat_tf.train.config.TrainConfig``
or a hyperparameter of a registered regularizer (``--dat_epsilon``, ``--gp_weight``, ...).

    python bin/train.py --flagfile=configs/toy_balanced_dat.flags --run_dir=runs/toy
    tensorboard --logdir runs/toy/logs
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import app, logging  # noqa: E402

from dat_tf.train.cli import config_from_flags, define_flags  # noqa: E402

FLAG_NAMES = define_flags()


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines (SavedModel export) drown the progress
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        cfg = config_from_flags(FLAG_NAMES).validate()
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    from dat_tf.train.loop import train
    from dat_tf.train.nan_guard import NonFiniteLossError

    try:
        gan, history = train(cfg)
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    step = int(gan.g_steps.numpy())
    last = {k: round(float(v[-1]), 4) for k, v in history.items()}
    if step < cfg.n_iter:
        print(f"stopped at generator step {step} of {cfg.n_iter} in {cfg.run_dir}; rerun the command to continue: {last}")
    else:
        print(f"finished {step} generator steps in {cfg.run_dir}: {last}")


if __name__ == "__main__":
    app.run(main)
