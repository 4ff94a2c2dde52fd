"""The command lines: ``dat-train``, ``dat-eval``, ``dat-sample``, ``dat-attack`` and
``dat-train-digits-classifier`` once the package is installed, ``bin/*.py`` in a checkout.

One module per command. Importing it silences TensorFlow's start-up noise first (its own imports may load
TensorFlow), then defines the command's absl flags, so a process imports one command module; each has
``main(argv)`` and ``run()``, the installed entry point, which ``bin/<name>.py`` calls too. The study's
commands (``dat-results``, ``dat-figure3``) are ``dat_study.commands``, since dat_tf never imports dat_study.
"""

from __future__ import annotations

import os
import sys


def program(script: str, command: str) -> str:
    """How the user started the command, for its messages: ``python bin/train.py`` when ``sys.argv[0]`` is
    that script (a checkout), else the installed ``command`` (``dat-train``)."""
    return f"python {script}" if os.path.basename(sys.argv[0]) == os.path.basename(script) else command


def start(main, module: str, program: str) -> None:
    """Runs a command's ``main`` under absl; what each command's ``run()`` does.

    absl's ``--help`` prints ``__main__``'s docstring and the flags of ``sys.argv[0]``, which are the entry
    script's (pip's generated one, or ``bin/<name>.py``): the command ``module``'s docstring and flags are made
    theirs. Flagfiles are found by bare name and a flag that cannot be parsed is one line and exit code 2
    (:func:`dat_tf.train.cli.flags_parser`).
    """
    from absl import app, flags

    from dat_tf.train.cli import flags_parser

    sys.modules["__main__"].__doc__ = sys.modules[module].__doc__
    for flag in flags.FLAGS.get_key_flags_for_module(module):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    try:
        app.run(main, flags_parser=flags_parser(program))
    except BrokenPipeError:  # ``dat-train --help | head``: the reader is gone, which is no error to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit would fail
        sys.exit(1)


def checked_flags(argv, validate):
    """``validate()`` after refusing positional arguments: ``(its value, None)``, or ``(None, exit code 2)`` once
    the bad flag's one-line error is printed (:func:`dat_tf.train.cli.fail`): each command's first lines."""
    from dat_tf.train.cli import EXIT_USAGE, FlagError, fail

    try:
        if len(argv) > 1:
            raise FlagError(f"unexpected arguments {argv[1:]}; every setting is a --flag.")
        return validate(), None
    except FlagError as e:
        return None, fail(EXIT_USAGE, str(e))


def generator_source(flag_values):
    """The checks shared by the commands that read a generator (``dat-eval``, ``dat-sample``): exactly one of
    ``--generator`` and ``--run_dir``, ``--step`` only with ``--run_dir`` and >= 0.  Returns the
    :class:`~dat_tf.train.run_dir.RunDir` of ``--run_dir``, or ``None`` for ``--generator``; raises
    :class:`~dat_tf.train.cli.FlagError`."""
    from dat_tf.train.cli import FlagError

    f = flag_values
    if bool(f.generator) == bool(f.run_dir):
        raise FlagError("give exactly one of --generator (a saved generator) and --run_dir (a training run).")
    if f.step is not None and not f.run_dir:
        raise FlagError("--step only applies with --run_dir.")
    if f.step is not None and f.step < 0:
        raise FlagError(f"--step={f.step} is not allowed; expected an integer >= 0.")
    if f.generator:
        return None
    from dat_tf.train.run_dir import RunDir

    try:
        return RunDir(f.run_dir)
    except (ValueError, FileNotFoundError) as e:
        raise FlagError(f"--run_dir: {e}") from None
