"""Deferred imports: TensorFlow and Keras load when first used, not when ``dat_tf`` is imported.

Importing TensorFlow takes seconds, so the modules a command line needs
before any work (``--help``, flag checks: :mod:`dat_tf.train.config` and the
registries of losses, regularizers, nets and datasets) must not import it.
This module imports nothing heavy itself and gives them four tools:

- :func:`lazy_module`: a stand-in for a module, imported on first attribute
  access (``tf = lazy_module("tensorflow")``; ``tf.reduce_mean`` then works).
- :func:`lazy_exports`: PEP 562 ``__getattr__``/``__dir__`` for a package
  whose public names live in submodules loaded on first use.
- :func:`keras_serializable`: ``keras.saving.register_keras_serializable``
  without importing Keras; the class is registered, under the same
  ``"package>Name"``, as soon as Keras is imported (or at once if it is).
- :func:`when_imported` / :func:`around_import`: run code after, or around,
  the first import of a module (used by the two above and by :mod:`dat_tf.quiet`).

Example:

>>> tf = lazy_module("tensorflow")
>>> @keras_serializable(package="my_project")
... class Scale:
...     def get_config(self):
...         return {}
>>> import keras
>>> keras.saving.get_registered_name(Scale)
'my_project>Scale'
"""

from __future__ import annotations

import functools
import importlib
import sys
import types

__all__ = ["around_import", "keras_serializable", "lazy_exports", "lazy_module", "when_imported"]


class _LazyModule:
    """Stands for the module ``name``; the first attribute access imports it."""

    def __init__(self, name: str):
        object.__setattr__(self, "_lazy_name", name)

    def __getattr__(self, attr):
        module = sys.modules.get(self._lazy_name)
        if module is None:
            module = importlib.import_module(self._lazy_name)
        return getattr(module, attr)

    def __repr__(self):
        return f"<lazy module {self._lazy_name!r}>"


def lazy_module(name: str):
    """A stand-in for the module ``name`` that imports it on first attribute access.

    Args:
      name: a module name, e.g. ``"tensorflow"``.
    """
    return _LazyModule(name)


def lazy_exports(package: str, exports: dict):
    """``(__getattr__, __dir__)`` for a package whose names are imported from submodules on first use (PEP 562).

    Args:
      package: the package's ``__name__`` (for error messages).
      exports: ``{public name: module that defines it}``.

    Example (in a package's ``__init__.py``)::

        __all__ = ["GAN"]
        __getattr__, __dir__ = lazy_exports(__name__, {"GAN": "dat_tf.gan"})
    """

    clashes = {name for name, source in exports.items() if source == f"{package}.{name}"}
    if clashes:
        # ``digits`` both names a submodule and the function it defines: importing the submodule
        # (from anywhere) makes Python set the package's attribute to the module; keep the function.
        sys.modules[package].__class__ = _package_class(frozenset(clashes))

    def __getattr__(name):
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


@functools.lru_cache(maxsize=None)
def _package_class(clashes):
    class _Package(types.ModuleType):
        def __setattr__(self, name, value):
            if name in clashes and isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}":
                value = getattr(value, name)
            super().__setattr__(name, value)

    return _Package


# ----------------------------------------------------------------------------- import hooks

_AROUND: dict[str, list] = {}
_AFTER: dict[str, list] = {}


def _imported(name: str):
    """The module ``name`` if it is imported and fully initialised, else None."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if module is None or getattr(spec, "_initializing", False):
        return None
    return module


def when_imported(name: str, callback) -> None:
    """Calls ``callback(module)`` once the module ``name`` is imported: now if it is, else right after its import.

    Args:
      name: a top-level module name, e.g. ``"keras"``.
      callback: called once with the module object.
    """
    module = _imported(name)
    if module is not None:
        callback(module)
        return
    _AFTER.setdefault(name, []).append(callback)
    _install()


def when_all_imported(names, callback) -> None:
    """Calls ``callback()`` once every module of ``names`` is imported and initialised: now, or when the last
    of them finishes.

    For modules that import each other while they initialise (TensorFlow imports Keras, Keras imports
    TensorFlow): a callback on one alone may run while the other is half-initialised.

    Args:
      names: top-level module names, e.g. ``("keras", "tensorflow")``.
      callback: called once, with no argument.
    """
    names, called = tuple(names), []

    def check(module):
        # The module whose import just finished is still flagged as initialising: count it as done.
        if called or any(n != module.__name__ and _imported(n) is None for n in names):
            return
        called.append(True)
        callback()

    for name in names:
        when_imported(name, check)


def around_import(name: str, wrapper) -> bool:
    """Runs the first import of the module ``name`` as ``wrapper(load)``; ``load()`` executes it.

    Returns False (and does nothing) if ``name`` is already imported.

    Args:
      name: a top-level module name, e.g. ``"tensorflow"``.
      wrapper: ``wrapper(load) -> None``; it must call ``load()`` exactly once.
    """
    if name in sys.modules:
        return False
    _AROUND.setdefault(name, []).append(wrapper)
    _install()
    return True


class _Loader:
    """The module's own loader, with the wrappers and callbacks around its execution."""

    def __init__(self, loader, around, after):
        self._loader, self._around, self._after = loader, around, after

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # Put the real loader back first: nothing after the import can tell it was wrapped.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        load = functools.partial(self._loader.exec_module, module)
        for wrapper in self._around:
            load = functools.partial(wrapper, load)
        load()
        # A callback may ask for more callbacks on this module (e.g. importing a module that registers
        # classes with Keras, from Keras's own callback): the module is still initialising then, so they
        # were queued; run them too.
        pending = self._after
        while pending:
            for callback in pending:
                callback(module)
            pending = _AFTER.pop(module.__name__, [])

    def __getattr__(self, attr):
        return getattr(self._loader, attr)


class _Finder:
    """Finds hooked modules with the other finders and wraps their loader (one shot per module)."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _AROUND and fullname not in _AFTER:
            return None
        around, after = _AROUND.pop(fullname, []), _AFTER.pop(fullname, [])
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # a namespace package or an old-style loader: leave it alone
        spec.loader = _Loader(spec.loader, around, after)
        return spec


_FINDER = _Finder()


def _install():
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


# ----------------------------------------------------------------------------- Keras registration


def keras_serializable(package: str | None = None, name: str | None = None):
    """Class decorator: ``keras.saving.register_keras_serializable(package, name)`` without importing Keras.

    Keras's registration only fills its two name tables, so doing it when
    Keras is imported (before anything can be saved or loaded) is the same as
    doing it at class definition: the class is saved and loaded under
    ``"package>name"``.  A class already registered with Keras (a user's own
    ``register_keras_serializable``) keeps its name.

    Args:
      package: the first part of the registered name (default: the top-level
        package of the class's module, ``dat_tf`` for the library's classes).
      name: the second part (default: the class's ``__name__``).

    Raises:
      ValueError: for a class without ``get_config`` (as Keras does).
    """

    def decorate(obj):
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__} with Keras: it has no get_config() method.")

        def register(keras):
            if ">" not in keras.saving.get_registered_name(obj):  # not registered yet: the name is the bare one
                keras.saving.register_keras_serializable(package or obj.__module__.split(".")[0], name)(obj)

        when_imported("keras", register)
        return obj

    return decorate
