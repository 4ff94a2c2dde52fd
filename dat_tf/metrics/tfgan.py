"""Loads TF-GAN's evaluation functions (``tfgan.eval``), also on TensorFlow >= 2.16.

Why this module exists
----------------------
``import tensorflow_gan`` fails on TensorFlow >= 2.16: the package root
(``tensorflow_gan/__init__.py``) imports ``tensorflow_gan.python.estimator`` and
``tensorflow_gan.python.train``, which subclass ``tf.estimator.SessionRunHook``,
and ``tf.estimator`` was removed from TensorFlow.  The evaluation code the
project needs (``tensorflow_gan/python/eval/classifier_metrics.py``) uses none of
that: it only needs ``tensorflow``, ``tensorflow_probability`` and its sibling
``eval_utils``.

So this loader first tries the ordinary ``import tensorflow_gan as tfgan``
(which works on old TensorFlow, or if TF-GAN ever fixes its root).  If that
fails, it registers *stub* parent packages ``tensorflow_gan`` and
``tensorflow_gan.python`` in ``sys.modules``: empty ``types.ModuleType``
objects whose ``__path__`` points at the real installed folders (found with
``importlib.util.find_spec``, which locates a package without executing it, or
by scanning site-packages).  Python then finds ``tensorflow_gan.python.eval``
in the real folder without ever running the broken root ``__init__``.  If the
whole ``eval`` package cannot be imported either (its ``__init__`` also pulls
in ``inception_metrics`` -> ``tensorflow_hub``), ``tensorflow_gan.python.eval``
is stubbed as well and only ``classifier_metrics`` is imported.

Only the ``*_from_activations`` / ``*_from_logits`` functions are exposed:
TF-GAN's own classifier-running paths call ``tf.compat.v1.layers.flatten``,
which does not exist with Keras 3, so the project computes activations and
logits with its own Keras/TF code (:mod:`dat_tf.metrics.activations`).  Its
``*_streaming`` forms are TF1 graph-mode metrics that raise in eager mode and
are not re-exported.

Exposed names: ``frechet_classifier_distance_from_activations``,
``kernel_classifier_distance_from_activations``,
``kernel_classifier_distance_and_std_from_activations``,
``classifier_score_from_logits``, plus ``eval`` (the ``tfgan.eval``
namespace, or just ``classifier_metrics`` in the last-resort mode),
``classifier_metrics`` and ``LOADED_VIA`` (``"package"``, ``"stubs"`` or
``"stubs+classifier_metrics"``).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import site
import sys
import types

_PKG = "tensorflow_gan"


def _installed_root() -> str:
    """The folder of the installed ``tensorflow_gan`` package, without importing it."""
    candidates = []
    try:
        spec = importlib.util.find_spec(_PKG)  # top-level: locates, does not execute
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates.extend(spec.submodule_search_locations)
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if hasattr(site, "getusersitepackages"):
        dirs.append(site.getusersitepackages())
    candidates.extend(os.path.join(d, _PKG) for d in dirs + list(sys.path) if d)
    for root in candidates:
        if os.path.isfile(os.path.join(root, "python", "eval", "classifier_metrics.py")):
            return root
    raise ImportError(
        "tensorflow-gan is not installed (no tensorflow_gan/python/eval/classifier_metrics.py found on "
        "sys.path or in site-packages); install it with `pip install tensorflow-gan`."
    )


def _stub(name: str, path: str) -> types.ModuleType:
    module = types.ModuleType(name, f"Stub for {name}, registered by dat_tf.metrics.tfgan (see its docstring).")
    module.__path__ = [path]
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    module.__spec__.submodule_search_locations = [path]
    module.__file__ = None
    sys.modules[name] = module
    if "." in name:
        parent, child = name.rsplit(".", 1)
        setattr(sys.modules[parent], child, module)
    return module


def _forget_tfgan_modules():
    for name in [n for n in sys.modules if n == _PKG or n.startswith(_PKG + ".")]:
        del sys.modules[name]


def _has_eval_functions(module) -> bool:
    return hasattr(module, "frechet_classifier_distance_from_activations") and hasattr(
        module, "kernel_classifier_distance_and_std_from_activations"
    )


def _load():
    """Returns ``(eval_namespace, classifier_metrics_module, how)``."""
    # 1. The ordinary import (TensorFlow < 2.16, or a fixed TF-GAN).
    try:
        import tensorflow_gan as tfgan  # noqa: F401

        if _has_eval_functions(tfgan.eval):
            return tfgan.eval, importlib.import_module(_PKG + ".python.eval.classifier_metrics"), "package"
    except Exception:  # noqa: BLE001 - AttributeError: module 'tensorflow' has no attribute 'estimator'
        pass
    # A failed import leaves half-imported submodules behind; start clean.
    _forget_tfgan_modules()
    root = _installed_root()
    _stub(_PKG, root)
    _stub(_PKG + ".python", os.path.join(root, "python"))
    # 2. The real ``eval`` package under stub parents.
    try:
        ev = importlib.import_module(_PKG + ".python.eval")
        return ev, importlib.import_module(_PKG + ".python.eval.classifier_metrics"), "stubs"
    except Exception:  # noqa: BLE001 - e.g. tensorflow_hub missing for inception_metrics
        for name in [n for n in sys.modules if n.startswith(_PKG + ".python.eval")]:
            del sys.modules[name]
    # 3. Last resort: stub ``eval`` too and import classifier_metrics alone.
    _stub(_PKG + ".python.eval", os.path.join(root, "python", "eval"))
    cm = importlib.import_module(_PKG + ".python.eval.classifier_metrics")
    return cm, cm, "stubs+classifier_metrics"


eval, classifier_metrics, LOADED_VIA = _load()  # noqa: A001 - mirrors ``tfgan.eval``

frechet_classifier_distance_from_activations = classifier_metrics.frechet_classifier_distance_from_activations
kernel_classifier_distance_from_activations = classifier_metrics.kernel_classifier_distance_from_activations
kernel_classifier_distance_and_std_from_activations = (
    classifier_metrics.kernel_classifier_distance_and_std_from_activations
)
classifier_score_from_logits = classifier_metrics.classifier_score_from_logits

__all__ = [
    "eval",
    "classifier_metrics",
    "LOADED_VIA",
    "frechet_classifier_distance_from_activations",
    "kernel_classifier_distance_from_activations",
    "kernel_classifier_distance_and_std_from_activations",
    "classifier_score_from_logits",
]
