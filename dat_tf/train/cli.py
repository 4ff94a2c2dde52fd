"""absl flags generated from :class:`dat_tf.train.config.TrainConfig` and the regularizer registry.

``dat_tf.commands.train`` (``dat-train``, ``bin/train.py``) calls :func:`define_flags` once and
:func:`config_from_flags` in ``main``: every flag's name, type, default and help come from the config's
fields and the regularizers' own fields, so nothing is restated here.  A
``--regularizer=module:Class`` on the command line (or in a flagfile) is
imported before the flags are defined, so its fields are flags too.
"""

from __future__ import annotations

import dataclasses
import sys

from absl import flags

from dat_tf import flagfiles
from dat_tf.hparams import allowed, kind_of
from dat_tf.regularizers import REGULARIZERS, names_of
from dat_tf.train.config import TrainConfig, regularizer_flags

# The flags belong to the module that calls define_flags (dat_tf.commands.train), whose flags
# dat_tf.commands.start shows in --help (absl's --help shows only the main module's; --helpfull all).
flags.disclaim_key_flags()

# Exit code of a bad flag, in every command line (absl's own is 1, with the whole usage text).
EXIT_USAGE = 2


class FlagError(Exception):
    """A bad flag value, or a missing file a flag names: printed alone (no usage text), exit code 2."""


def fail(code: int, message: str) -> int:
    """Prints ``error: <message>`` on stderr; returns ``code`` (for ``return fail(...)`` in a ``main``)."""
    print(f"error: {message}", file=sys.stderr)
    return code


def usage_error(message: str, program: str):
    """A bad flag: the problem alone, first and short, then exit code 2.

    ``program`` is how the user started the command (``python bin/train.py``, ``dat-train``).
    """
    sys.exit(fail(EXIT_USAGE, f"{message}\n({program} --helpfull lists every flag.)"))


def flags_parser(program: str, flag_values=flags.FLAGS):
    """``app.run(main, flags_parser=flags_parser("dat-x"))``: absl's parsing of the command line with its
    flagfiles found by bare name (:mod:`dat_tf.flagfiles`), but a flag it cannot parse, or a flagfile not
    found, is one short line and exit code 2 instead of absl's usage text and 1."""

    def parse(argv):
        try:
            return flag_values([argv[0], *flagfiles.resolve_args(argv[1:])])
        except flags.Error as e:
            usage_error(str(e), program)

    return parse


_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}


def _regularizer_in(argv, flag_values) -> str | None:
    """The last ``--regularizer`` value of ``argv`` (flagfiles found as the parse finds them and read as absl
    reads them), or ``None``."""
    try:
        args = flag_values.read_flags_from_files(flagfiles.resolve_args(list(argv[1:])), force_gnu=False)
    except (flags.Error, OSError):  # a missing or bad flagfile: the parse itself reports it
        args = list(argv[1:])
    value = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        name, eq, text = arg.lstrip("-").partition("=")
        if arg.startswith("-") and name == "regularizer":
            value = text if eq else (args[i + 1] if i + 1 < len(args) else None)
    return value


def define_flags(flag_values=flags.FLAGS, argv=None, program: str = "dat-train") -> list[str]:
    """Defines one flag per config field and per regularizer hyperparameter; returns their names.

    Args:
      flag_values: the absl ``FlagValues`` to define them in.
      argv: the command line (default ``sys.argv``): a ``--regularizer=module:Class`` in it is
        imported first so its fields get flags; one that cannot be used is a usage error (exit 2).
      program: how the user started the command, for a usage error (``python bin/train.py``, ``dat-train``).
    """
    name = _regularizer_in(sys.argv if argv is None else argv, flag_values)
    try:
        if name and ":" in name:
            REGULARIZERS.lookup(name)
        reg_flags = regularizer_flags()
    except ValueError as e:
        usage_error(f"--regularizer={name!r} is not allowed: {e}" if name and ":" in name else str(e), program)
    names = []
    for field in dataclasses.fields(TrainConfig):
        if not field.metadata.get("flag", True):
            continue
        kind = kind_of(field, TrainConfig)
        help_text = f"{field.metadata['help']} Allowed: {allowed(field, TrainConfig)}."
        _DEFINE[kind](field.name, field.default, help_text, flag_values=flag_values)
        names.append(field.name)
    for flag, (cls, field) in reg_flags.items():
        users = ", ".join(names_of(cls))
        help_text = (f"[{users}] {field.metadata['help']} Default: {field.default!r}. "
                     f"Allowed: {allowed(field, cls)}.")
        _DEFINE[kind_of(field, cls)](flag, None, help_text, flag_values=flag_values)
        names.append(flag)
    return names


def define_short_help(flag_values=flags.FLAGS) -> None:
    """Makes ``-h`` an alias of absl's ``--help`` (absl knows only ``--help`` and ``-?``)."""
    from absl import app

    if flag_values is flags.FLAGS:
        app.define_help_flags()
    if "help" in flag_values and "h" not in flag_values:
        flags.DEFINE_alias("h", "help", flag_values=flag_values)


def config_from_flags(names, flag_values=flags.FLAGS) -> TrainConfig:
    """The (unvalidated) config the parsed flags describe."""
    return TrainConfig.from_flags({name: flag_values[name].value for name in names})
