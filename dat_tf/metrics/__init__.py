"""Sample-quality metrics: FID, KID and IS through TF-GAN, with pluggable classifiers.

Example::

    from dat_tf.metrics import evaluate
    rows = evaluate("generator.keras", dataset="digits", classifier="digits", num_samples=10000, seeds=(0, 1, 2))

Modules: :mod:`~dat_tf.metrics.tfgan` (loads TF-GAN's eval functions on
TF >= 2.16), :mod:`~dat_tf.metrics.scores` (fid / kid / inception_score),
:mod:`~dat_tf.metrics.classifiers` (inception, Keras files, digits),
:mod:`~dat_tf.metrics.activations` (batched, streamed features),
:mod:`~dat_tf.metrics.realstats` (cached real statistics),
:mod:`~dat_tf.metrics.evaluation` (``evaluate``) and :mod:`~dat_tf.metrics.digits` (the offline
classifier's recipe).
"""

from dat_tf.metrics.activations import compute_activations, generator_sampler, iterate_batches
from dat_tf.metrics.classifiers import (
    DIGITS_CLASSIFIER_PATH,
    INCEPTION_TFHUB,
    Classifier,
    InceptionClassifier,
    InceptionUnavailableError,
    KerasClassifier,
    digits_classifier,
    get_classifier,
    load_inception,
)
from dat_tf.metrics.evaluation import evaluate, load_generator
from dat_tf.metrics.realstats import cache_key, real_images, real_statistics
from dat_tf.metrics.scores import fid, inception_score, kid

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
