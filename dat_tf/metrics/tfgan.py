"""Loads TF-GAN's evaluation functions (``tfgan.eval``), also on TensorFlow >= 2.16.

Design notes: docs/design.md, "Loading TF-GAN on TensorFlow >= 2.16".
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
