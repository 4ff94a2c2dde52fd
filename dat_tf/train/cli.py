"""absl flags generated from :class:`dat_tf.train.config.TrainConfig` and the regularizer registry.

``bin/train.py`` calls :func:`define_flags` once and :func:`config_from_flags`
in ``main``: every flag's name, type, default and help come from the config's
fields and the regularizers' own fields, so nothing is restated here.
"""

from __future__ import annotations

import dataclasses
import sys

from absl import flags

from dat_tf.hparams import allowed, kind_of
from dat_tf.regularizers import names_of
from dat_tf.train.config import TrainConfig, regularizer_flags

# The flags belong to the module that calls define_flags (bin/train.py): absl's --help then
# lists them (it shows only the main module's flags; --helpfull shows all).
flags.disclaim_key_flags()

# Exit code of a bad flag, in every command line (absl's own is 1, with the whole usage text).
EXIT_USAGE = 2


class FlagError(Exception):
    """A bad flag value, or a missing file a flag names: printed alone (no usage text), exit code 2."""


def fail(code: int, message: str) -> int:
    """Prints ``error: <message>`` on stderr; returns ``code`` (for ``return fail(...)`` in a ``main``)."""
    print(f"error: {message}", file=sys.stderr)
    return code


def usage_error(message: str, script: str):
    """A bad flag: the problem alone, first and short, then exit code 2."""
    sys.exit(fail(EXIT_USAGE, f"{message}\n(python {script} --helpfull lists every flag.)"))


def flags_parser(script: str, flag_values=flags.FLAGS):
    """``app.run(main, flags_parser=flags_parser("bin/x.py"))``: absl's parsing, but a flag it cannot
    parse is one short line and exit code 2 instead of absl's usage text and 1."""

    def parse(argv):
        try:
            return flag_values(argv)
        except flags.Error as e:
            usage_error(str(e), script)

    return parse


_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}


def define_flags(flag_values=flags.FLAGS) -> list[str]:
    """Defines one flag per config field and per regularizer hyperparameter; returns their names."""
    names = []
    for field in dataclasses.fields(TrainConfig):
        if not field.metadata.get("flag", True):
            continue
        kind = kind_of(field, TrainConfig)
        help_text = f"{field.metadata['help']} Allowed: {allowed(field, TrainConfig)}."
        _DEFINE[kind](field.name, field.default, help_text, flag_values=flag_values)
        names.append(field.name)
    for flag, (cls, field) in regularizer_flags().items():
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
