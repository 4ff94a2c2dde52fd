"""One registry type for every name a user picks: losses, nets, datasets and regularizers.

A :class:`Registry` maps names to entries in registration order and treats
every kind the same way:

- :meth:`Registry.add` refuses a name another owner registered (the error
  names the name and both owners); registering the same entry again does
  nothing, and the same owner registering another entry under its name
  replaces it (a re-run notebook cell, a reloaded module).
- :meth:`Registry.lookup` returns an entry or raises one ``ValueError`` naming
  the bad value, the allowed names and the closest one ("did you mean").
- :meth:`Registry.names` lists the names for flag choices and help, then the
  patterns the registry also takes (``folder:<path>``, ``module:Class``),
  each added with the function that turns such a name into an entry
  (:meth:`Registry.add_pattern`).

It imports nothing heavy: flag checks and ``--help`` read the registries
before (or without) TensorFlow.

Example:

>>> colours = Registry("colour")
>>> colours.add("red", "#f00", owner="my_module")
'#f00'
>>> colours.lookup("rde")
Traceback (most recent call last):
...
ValueError: Unknown colour 'rde' (did you mean 'red'?); expected one of ['red'].
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from typing import Callable

__all__ = ["Registry", "caller_module", "qualified_name"]


class Registry(Mapping):
    """Names -> entries of one kind, in registration order (a read-only ``Mapping``; add with :meth:`add`).

    Args:
      kind: what an entry is, in messages (``"net"``, ``"GAN loss"``, ...).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict = {}
        self._owners: dict = {}
        self._patterns: dict = {}

    # Mapping: read-only access in registration order.
    def __getitem__(self, name):
        return self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return f"<Registry of {self.kind}s: {list(self._entries)}>"

    def add(self, name: str, entry, *, owner: str):
        """Registers ``entry`` under ``name``; returns ``entry``.

        Args:
          name: a non-empty string.
          entry: what :meth:`lookup` returns for ``name``.
          owner: who registers it (a class's ``module.QualName``, or a module
            name), named when a name clashes.

        Raises:
          ValueError: ``name`` is registered by another owner.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.kind} name must be a non-empty string, got {name!r}.")
        if self._entries.get(name) is entry:
            return entry
        old = self._owners.get(name)
        if old is not None and old != owner:
            kind = self.kind[:1].upper() + self.kind[1:]
            raise ValueError(f"{kind} name {name!r} is already registered by {old}; {owner} cannot register it too "
                             "(choose another name).")
        self._entries[name] = entry
        self._owners[name] = owner
        return entry

    def add_pattern(self, pattern: str, resolve: Callable) -> None:
        """Makes names of a form valid without listing each (``"folder:<path>"``), listed after the names.

        Args:
          pattern: how the form is shown in listings and errors.
          resolve: ``resolve(name) -> entry or None``, asked for a name that is
            not registered: ``None`` means "not of this form"; a
            ``ValueError`` says why a name of this form is bad.
        """
        self._patterns[pattern] = resolve

    def owner(self, name: str) -> str:
        """Who registered ``name`` (the ``owner`` given to :meth:`add`)."""
        return self._owners[name]

    def lookup(self, name):
        """The entry called ``name`` (or resolved from one of the patterns).

        Raises:
          ValueError: naming ``name``, the allowed names and the closest one.
        """
        if isinstance(name, str):
            if name in self._entries:
                return self._entries[name]
            for resolve in self._patterns.values():
                entry = resolve(name)
                if entry is not None:
                    return entry
        close = difflib.get_close_matches(str(name), list(self._entries), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"Unknown {self.kind} {name!r}{hint}; expected one of {list(self.names())}.")

    def names(self) -> tuple:
        """The registered names in registration order, then the patterns: flag choices and help."""
        return tuple(self._entries) + tuple(self._patterns)


def qualified_name(obj) -> str:
    """``module.QualName`` of a class or function: the owner of a registered class."""
    return f"{obj.__module__}.{obj.__qualname__}"


def caller_module(depth: int = 1) -> str:
    """The ``__name__`` of the module ``depth`` calls above the caller: the owner of a registered instance.

    Example: ``register_net`` calls ``caller_module()`` to name the module that called ``register_net``.
    """
    return sys._getframe(depth + 1).f_globals.get("__name__", "?")
