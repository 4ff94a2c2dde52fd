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
