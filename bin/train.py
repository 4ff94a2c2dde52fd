#!/usr/bin/env python
"""Trains one GAN run.  Every flag is a field of ``dat_tf.train.config.TrainConfig``
or a hyperparameter of a registered regularizer (``--dat_epsilon``, ``--gp_weight``, ...).

    python bin/train.py --flagfile=configs/toy_balanced_dat.flags --run_dir=runs/toy
    tensorboard --logdir runs/toy/logs
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dat_tf.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import app, flags, logging  # noqa: E402

from dat_tf.train.cli import config_from_flags, define_flags, define_short_help  # noqa: E402

FLAG_NAMES = define_flags()
define_short_help()
flags.DEFINE_bool("overwrite", False, "Delete what an earlier run wrote into --run_dir (config, checkpoints, logs, "
                  "exports) and start over; without it a run folder with another configuration is refused.")

# Exit codes: 0 trained or already finished, 1 a NaN/Inf stopped the run, 2 bad flags (absl),
# 3 the run folder was refused (another configuration, or another process holds it).


def _usage_error(message):
    """Bad flags: the problem alone, first and short (no flag listing), exit code 2."""
    print(f"error: {message}\n(python bin/train.py --helpfull lists every flag.)", file=sys.stderr)
    sys.exit(2)


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines (SavedModel export) drown the progress
    if len(argv) > 1:
        _usage_error(f"unexpected arguments {argv[1:]}; every setting is a --flag.")
    try:
        cfg = config_from_flags(FLAG_NAMES).validate()
    except ValueError as e:
        _usage_error(str(e))
    from dat_tf.train.loop import train
    from dat_tf.train.nan_guard import NonFiniteLossError
    from dat_tf.train.run_identity import RunConfigMismatch, RunLockedError

    try:
        gan, history = train(cfg, overwrite=flags.FLAGS.overwrite)
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except (RunConfigMismatch, RunLockedError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
    step = int(gan.g_steps.numpy())
    last = {k: round(float(v[-1]), 4) for k, v in history.items()}
    if not history and step >= cfg.n_iter:
        print(f"{cfg.run_dir} already finished at generator step {step} (--n_iter={cfg.n_iter}); nothing to train.")
    elif step < cfg.n_iter:
        print(f"stopped at generator step {step} of {cfg.n_iter} in {cfg.run_dir}; rerun the command to continue: {last}")
    else:
        print(f"finished {step} generator steps in {cfg.run_dir}: {last}")


if __name__ == "__main__":
    app.run(main)
