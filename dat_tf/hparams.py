"""Hyperparameters that carry their own help, choices and bounds.

A field declared with :func:`param` knows what it means and what values it
takes, so one declaration serves the object's constructor, its validation, its
``get_config``, the run config and the command-line flags (``bin/`` generates
them): nothing restates a name, a default or a bound in a second table.

Example:

>>> import dataclasses
>>> @dataclasses.dataclass
... class Step:
...     size: float = param(1.0, "Step size.", low=0.0)
>>> problems(Step(size=-1.0))
['size=-1.0 is not allowed; expected a finite number >= 0.0']
"""

from __future__ import annotations

import dataclasses
import math
import typing


def param(default, help: str, *, choices=None, low=None, high=None, strict: bool = False,
          optional: bool = False, flag: bool = True, kind=None):
    """A dataclass field with metadata.

    Args:
      default: the default value (lists and dicts are copied per instance).
      help: one line: what the value means (flag help, docs).
      choices: the allowed values (a tuple, or a callable returning one, read
        when checked, so registries may grow after import).
      low, high: bounds of a number; ``strict`` makes ``low`` exclusive.
      optional: ``None`` is allowed (it means "the default of whatever reads it").
      flag: whether ``bin/`` turns the field into a command-line flag.
      kind: the value's type (``int``, ``float``, ``str``, ``bool``); read from
        the annotation or the default when not given.
    """
    meta = {"help": help, "choices": choices, "low": low, "high": high, "strict": strict,
            "optional": optional, "flag": flag, "kind": kind}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


_KINDS = {"int": int, "float": float, "str": str, "bool": bool}


def kind_of(field: dataclasses.Field, owner=None):
    """The scalar type of a field (``int``, ``float``, ``str``, ``bool``), or ``None`` for others."""
    kind = field.metadata.get("kind")
    if kind is not None:
        return kind
    annotation = field.type
    if owner is not None and isinstance(annotation, str):
        try:
            annotation = typing.get_type_hints(owner)[field.name]
        except Exception:  # noqa: BLE001 - fall back to the string
            pass
    if isinstance(annotation, str):
        return _KINDS.get(annotation.replace(" ", "").replace("|None", "").replace("None|", ""))
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1:
        annotation = args[0]
    return annotation if annotation in (int, float, str, bool) else None


def choices_of(field: dataclasses.Field):
    choices = field.metadata.get("choices")
    return tuple(choices() if callable(choices) else choices) if choices is not None else None


def allowed(field: dataclasses.Field, owner=None) -> str:
    """What a field takes, in words ("one of [...]", "an integer >= 1", ...)."""
    m = field.metadata
    choices = choices_of(field)
    kind = kind_of(field, owner)
    if choices is not None:
        text = f"one of {list(choices)}"
    elif kind is bool:
        text = "true or false"
    elif kind in (int, float):
        text = "an integer" if kind is int else "a finite number"
        if m.get("low") is not None:
            text += f" {'>' if m.get('strict') else '>='} {m['low']}"
        if m.get("high") is not None:
            text += f"{' and' if m.get('low') is not None else ''} <= {m['high']}"
    elif kind is str:
        text = "a string"
    else:
        text = "a valid value"
    if m.get("optional"):
        text += " (or None: the default)"
    return text


def check_value(field: dataclasses.Field, value, owner=None) -> bool:
    """Whether ``value`` is allowed for ``field``."""
    m = field.metadata
    if value is None:
        return bool(m.get("optional"))
    choices = choices_of(field)
    if choices is not None:
        return value in choices
    kind = kind_of(field, owner)
    if kind is bool:
        return isinstance(value, bool)
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if kind is int and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        low, high = m.get("low"), m.get("high")
        if low is not None and (value <= low if m.get("strict") else value < low):
            return False
        return high is None or value <= high
    if kind is str:
        return isinstance(value, str)
    return True


def problems(obj, prefix: str = "") -> list[str]:
    """One line per field of the dataclass ``obj`` whose value is not allowed."""
    out = []
    for f in dataclasses.fields(obj):
        if "help" not in f.metadata:
            continue
        value = getattr(obj, f.name)
        if not check_value(f, value, type(obj)):
            out.append(f"{prefix}{f.name}={value!r} is not allowed; expected {allowed(f, type(obj))}")
    return out


def parse(kind, text: str):
    """``text`` (a flag value) as ``kind``; ``None`` for ``"none"``/empty; raises ``ValueError``."""
    if text is None or (kind is not str and text.strip().lower() in ("", "none")):
        return None
    if kind is bool:
        low = text.strip().lower()
        if low not in ("true", "false", "1", "0"):
            raise ValueError(f"{text!r} is not true or false")
        return low in ("true", "1")
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return text
