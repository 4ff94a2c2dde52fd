"""absl flags generated from :class:`dat_tf.train.config.TrainConfig` and the regularizer registry.

``bin/train.py`` calls :func:`define_flags` once and :func:`config_from_flags`
in ``main``: every flag's name, type, default and help come from the config's
fields and the regularizers' own fields, so nothing is restated here.
"""

from __future__ import annotations

import dataclasses

from absl import flags

from dat_tf.hparams import allowed, kind_of
from dat_tf.regularizers import names_of
from dat_tf.train.config import TrainConfig, regularizer_flags

# The flags belong to the module that calls define_flags (bin/train.py): absl's --help then
# lists them (it shows only the main module's flags; --helpfull shows all).
flags.disclaim_key_flags()

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
