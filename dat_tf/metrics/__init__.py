"""Sample-quality metrics: FID, KID and IS through TF-GAN, with pluggable classifiers.

Example::

    from dat_tf.metrics import evaluate
    rows = evaluate("generator.keras", dataset="digits", classifier="digits", num_samples=10000, seeds=(0, 1, 2))

Modules: :mod:`~dat_tf.metrics.tfgan` (loads TF-GAN's eval functions on
TF >= 2.16), :mod:`~dat_tf.metrics.scores` (fid / kid / inception_score),
:mod:`~dat_tf.metrics.classifiers` (inception, Keras files, digits),
:mod:`~dat_tf.metrics.activations` (batched, streamed features),
:mod:`~dat_tf.metrics.realstats` (cached real statistics),
:mod:`~dat_tf.metrics.evaluation` (``evaluate``), :mod:`~dat_tf.metrics.digits` (the offline
classifier's recipe) and :mod:`~dat_tf.metrics.attack` (Figure 1's targeted attack).
"""

import importlib

# name -> the module defining it.  Imported on first use (PEP 562), so that a light module of this
# package (``attack``'s constants, read by ``bin/attack.py`` before TensorFlow loads) costs nothing.
_EXPORTS = {
    "compute_activations": "activations",
    "generator_sampler": "activations",
    "iterate_batches": "activations",
    "DIGITS_CLASSIFIER_PATH": "classifiers",
    "INCEPTION_TFHUB": "classifiers",
    "Classifier": "classifiers",
    "InceptionClassifier": "classifiers",
    "InceptionUnavailableError": "classifiers",
    "KerasClassifier": "classifiers",
    "digits_classifier": "classifiers",
    "get_classifier": "classifiers",
    "load_inception": "classifiers",
    "evaluate": "evaluation",
    "load_generator": "evaluation",
    "cache_key": "realstats",
    "real_images": "realstats",
    "real_statistics": "realstats",
    "fid": "scores",
    "inception_score": "scores",
    "kid": "scores",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"dat_tf.metrics.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'dat_tf.metrics' has no attribute {name!r}")


__all__ = [
    "Classifier",
    "DIGITS_CLASSIFIER_PATH",
    "INCEPTION_TFHUB",
    "InceptionClassifier",
    "InceptionUnavailableError",
    "KerasClassifier",
    "cache_key",
    "compute_activations",
    "digits_classifier",
    "evaluate",
    "fid",
    "generator_sampler",
    "get_classifier",
    "inception_score",
    "iterate_batches",
    "kid",
    "load_generator",
    "load_inception",
    "real_images",
    "real_statistics",
]
