"""Trains one GAN run (``dat-train``; ``python bin/train.py`` in a checkout).  Every flag is a field of
``dat_tf.train.config.TrainConfig`` or a hyperparameter of a registered regularizer (``--dat_epsilon``,
``--gp_weight``, ...). ``--regularizer=module:Class`` runs a Regularizer subclass of your own; its fields are
flags too.

    dat-train --flagfile=toy_balanced_dat --run_dir=runs/toy
    python bin/train.py --flagfile=configs/toy_balanced_dat.flags --run_dir=runs/toy
    tensorboard --logdir runs/toy/logs

``--flagfile`` takes a path, or the bare name of a flagfile installed with dat_tf (those of the checkout's
``configs/``, e.g. ``--flagfile=sngan_cifar10_dat``); a file of that name in the working folder wins.

Progress: with the default ``--verbose=1`` a line every ``--log_every``
generator steps, ``step 1200/2000  d_loss 1.23  g_loss 0.98  2.1 it/s  ETA 6m20s``
(the step counts across resumes; the speed is this process's).

Errors are one paragraph on stderr starting ``error:``, saying what happened and
what to do; ``--debug`` adds the Python traceback.  Exit codes:

    0    trained, or the run was already finished
    1    a NaN/Inf stopped the run (--on_nan); the last finite state and a report are in --run_dir
    2    bad flags or flag values
    3    the run folder is refused: it holds another configuration (--overwrite or another --run_dir),
         or another process is using it
    4    the dataset is not prepared or cannot be read (missing tfds data without --download, a missing
         Tiny-ImageNet or folder: path, unreadable images)
    5    the run folder cannot be written (permissions, read-only disk, a file in the way)
    6    checkpoints exist but none can be restored (repair or remove them, or use another --run_dir)
    70   an unexpected error (probably a bug): its type and message; --debug shows the traceback
    130  interrupted (Ctrl-C): a checkpoint of the step reached was saved; rerunning the same command resumes there
    143  terminated (SIGTERM, as schedulers and preemption send): the same, a checkpoint of the step reached

Ctrl-C and SIGTERM finish the running execution (at most --steps_per_execution generator steps), save that
step and stop; a second one stops at once, without saving (the rerun resumes from the newest checkpoint).
"""

import os
import signal
import sys

from dat_tf.quiet import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import flags, logging  # noqa: E402

from dat_tf.commands import program, start  # noqa: E402
from dat_tf.train.cli import config_from_flags, define_flags, define_short_help, usage_error  # noqa: E402

PROGRAM = program("bin/train.py", "dat-train")
FLAG_NAMES = define_flags(program=PROGRAM)  # with a --regularizer=module:Class, its fields' flags too
define_short_help()
flags.DEFINE_bool("overwrite", False, "Delete what an earlier run wrote into --run_dir (config, checkpoints, logs, "
                  "exports) and start over; without it a run folder with another configuration is refused.")

flags.DEFINE_bool("debug", False, "Show the Python traceback of an error; without it an error is one paragraph "
                  "saying what happened and what to do.")

# Exit codes by kind of failure (the table is in the module docstring).
EXIT_NAN, EXIT_USAGE, EXIT_REFUSED, EXIT_DATA, EXIT_NOT_WRITABLE, EXIT_RESTORE = 1, 2, 3, 4, 5, 6
EXIT_UNEXPECTED, EXIT_INTERRUPTED, EXIT_TERMINATED = 70, 130, 143


def _fail(code, message, exc):
    """One paragraph on stderr (after the traceback with --debug), then exit ``code``."""
    if flags.FLAGS.debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def _under(path, folder):
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return path == folder or path.startswith(folder + os.sep)


def _known(e, cfg):
    """``(exit code, message)`` of a runtime error we know, else ``None``."""
    from dat_tf.data.errors import DatasetUnavailableError
    from dat_tf.train.checkpoints import CheckpointRestoreError
    from dat_tf.train.nan_guard import NonFiniteLossError
    from dat_tf.train.run_identity import RunConfigMismatch, RunDirNotWritableError, RunLockedError, not_writable

    if isinstance(e, NonFiniteLossError):
        return EXIT_NAN, str(e)
    if isinstance(e, (RunConfigMismatch, RunLockedError)):
        return EXIT_REFUSED, str(e)
    if isinstance(e, DatasetUnavailableError):
        return EXIT_DATA, f"the dataset --dataset={cfg.dataset} cannot be used. {e}"
    if isinstance(e, RunDirNotWritableError):
        return EXIT_NOT_WRITABLE, str(e)
    if isinstance(e, OSError) and e.filename and _under(str(e.filename), cfg.run_dir):
        return EXIT_NOT_WRITABLE, str(not_writable(cfg.run_dir, e))
    if type(e).__name__ == "PermissionDeniedError" and os.path.abspath(cfg.run_dir) in str(e):  # TensorFlow's
        first = str(e).strip().splitlines()[0]
        return EXIT_NOT_WRITABLE, (f"cannot write to the run folder {cfg.run_dir} ({first}); use a --run_dir you "
                                   "can write to, or fix its permissions.")
    if isinstance(e, CheckpointRestoreError):
        return EXIT_RESTORE, str(e)
    return None


def _unexpected(e):
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    text = " ".join(lines[:3])
    if len(text) > 600:
        text = text[:600] + " ..."
    return (f"unexpected {type(e).__name__}{': ' + text if text else ''}. This is probably a bug; rerun with "
            "--debug for the traceback.")


def main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines (SavedModel export) drown the progress
    if len(argv) > 1:
        usage_error(f"unexpected arguments {argv[1:]}; every setting is a --flag.", PROGRAM)
    try:
        cfg = config_from_flags(FLAG_NAMES).validate()
    except ValueError as e:
        usage_error(str(e), PROGRAM)
    from dat_tf.train.stop_signals import describe, raise_interrupted

    signal.signal(signal.SIGTERM, raise_interrupted)  # before training: stop with a message (train() saves after)
    try:
        from dat_tf.train.loop import train

        gan, history = train(cfg, overwrite=flags.FLAGS.overwrite)
    except KeyboardInterrupt as e:
        # train() raises TrainingInterrupted (a KeyboardInterrupt) once training runs; before, nothing was trained.
        signum = getattr(e, "signum", signal.SIGINT)
        message = str(e) if str(e) else (f"{describe(signum)} before training started in {cfg.run_dir}; rerun the "
                                         "same command to start it.")
        _fail(EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED, message, e)
    except Exception as e:  # noqa: BLE001 - every error becomes one paragraph and an exit code by kind
        known = _known(e, cfg)
        _fail(*(known or (EXIT_UNEXPECTED, _unexpected(e))), e)
    step = int(gan.g_steps.numpy())
    last = {k: round(float(v[-1]), 4) for k, v in history.items()}
    if not history and step >= cfg.n_iter:
        print(f"{cfg.run_dir} already finished at generator step {step} (--n_iter={cfg.n_iter}); nothing to train.")
    elif step < cfg.n_iter:
        print(f"stopped at generator step {step} of {cfg.n_iter} in {cfg.run_dir}; rerun the command to continue: {last}")
    else:
        print(f"finished {step} generator steps in {cfg.run_dir}: {last}")


def run():
    """The ``dat-train`` entry point (``bin/train.py`` calls it too)."""
    start(main, __name__, PROGRAM)
