"""Flagfiles by bare name: ``dat-train --flagfile=toy_balanced_dat`` runs ``configs/toy_balanced_dat.flags``
from any folder, because the flagfiles of ``configs/`` are installed with the package (as ``dat_tf/configs/``).

A ``--flagfile`` value naming an existing file is used as it is: a path always wins. Otherwise a bare name,
with or without ``.flags``, is looked up among the packaged flagfiles. Every command rewrites its command line
with :func:`resolve_args` before absl reads it (``dat_tf.train.cli.flags_parser``, and ``define_flags``'s early
look for ``--regularizer``), so absl only sees paths. A ``--flagfile`` line inside a flagfile is read by absl as
written (relative to the working folder); the packaged flagfiles hold none.

absl's own error for a missing flagfile names neither the value nor what exists; :class:`FlagfileNotFound`
names both, with the close matches.
"""

from __future__ import annotations

import difflib
import os

from absl import flags

SUFFIX = ".flags"


class FlagfileNotFound(flags.Error):
    """A ``--flagfile`` value that is neither a file nor the name of a packaged flagfile.

    An absl flag error, so each command reports it as it reports a bad flag (one line, exit code 2).
    """


def folder() -> str:
    """The packaged flagfiles: ``dat_tf/configs/`` once installed, else (a checkout, installed editable or not
    at all) the ``configs/`` beside ``dat_tf/``."""
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "configs")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(here), "configs")


def names() -> list[str]:
    """The packaged flagfiles' bare names (``toy_balanced_dat``, ...), sorted."""
    try:
        files = os.listdir(folder())
    except OSError:
        return []
    return sorted(f[: -len(SUFFIX)] for f in files if f.endswith(SUFFIX))


def _stem(value: str) -> str:
    name = os.path.basename(value)
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name


def resolve(value: str) -> str:
    """The file ``--flagfile=value`` means: ``value`` if it is a file, else the packaged flagfile of that bare
    name (``toy_balanced_dat`` or ``toy_balanced_dat.flags``). Raises :class:`FlagfileNotFound` otherwise."""
    if os.path.isfile(value):
        return value
    bare = os.path.basename(value) == value
    if bare and _stem(value) in names():
        return os.path.join(folder(), _stem(value) + SUFFIX)
    if bare:
        where = f"no file {value} in {os.getcwd()}, nor a flagfile of that name installed with dat_tf (in {folder()})"
    else:
        where = f"no such file: {os.path.abspath(value)}"
    close = difflib.get_close_matches(_stem(value), names(), n=5, cutoff=0.6)
    if close:
        hint = f"close matches among the installed flagfiles (pass the bare name): {', '.join(close)}"
    else:
        hint = f"the {len(names())} installed flagfiles are in {folder()}"
    raise FlagfileNotFound(f"--flagfile={value}: {where}; {hint}.")


def _is_flagfile(arg: str) -> bool:
    return arg in ("--flagfile", "-flagfile")


def resolve_args(args: list[str]) -> list[str]:
    """``args`` (a command line without the program name) with each ``--flagfile=X`` / ``--flagfile X``
    value replaced by :func:`resolve`'s path; arguments after ``--`` are left alone."""
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return out + args[i:]
        name, eq, value = arg.partition("=")
        if eq and _is_flagfile(name):
            out.append(f"{name}={resolve(value)}")
        elif _is_flagfile(arg) and i + 1 < len(args):
            out += [arg, resolve(args[i + 1])]
            i += 1
        else:
            out.append(arg)
        i += 1
    return out
