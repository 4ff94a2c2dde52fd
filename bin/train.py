#!/usr/bin/env python
"""Trains one GAN run.  Flags mirror ``dat_tf.train.config.TrainConfig``.

    python bin/train.py --flagfile=configs/toy_balanced_dat.flags --run_dir=runs/toy
    tensorboard --logdir runs/toy/logs
"""

import dataclasses
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import app, flags, logging  # noqa: E402

from dat_tf.train.config import HELP, TrainConfig  # noqa: E402

_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}
for _field in dataclasses.fields(TrainConfig):
    _DEFINE[type(_field.default)](_field.name, _field.default, HELP[_field.name])

FLAGS = flags.FLAGS


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines (SavedModel export) drown the progress
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    cfg = TrainConfig(**{name: getattr(FLAGS, name) for name in TrainConfig.field_names()})
    try:
        cfg.validate()
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    from dat_tf.train.nan_guard import NonFiniteLossError
    from dat_tf.train.loop import train

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
