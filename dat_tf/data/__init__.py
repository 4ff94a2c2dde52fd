"""Training data: the 2D mixtures, the offline digits, tfds datasets and image folders.

Every pipeline yields float32 batches of ``n_dis * batch_size`` examples, the unit
:class:`dat_tf.GAN` consumes per generator step.  The names below load their
module (and TensorFlow) on first use, so importing :mod:`dat_tf.data.registry`
for flag checks stays fast; the built-in datasets (:mod:`dat_tf.data.catalog`)
are registered here.
"""

from dat_tf.data import catalog  # noqa: F401 - registers the built-in datasets before anything reads the registry
from dat_tf.lazy import lazy_exports

_EXPORTS = {
    "DEFAULT_STD": "dat_tf.data.toy",
    "BadImagesError": "dat_tf.data.errors",
    "DatasetNotFoundError": "dat_tf.data.errors",
    "DatasetUnavailableError": "dat_tf.data.errors",
    "batch_for_gan": "dat_tf.data.batching",
    "digits": "dat_tf.data.digits",
    "gaussian_mixture": "dat_tf.data.toy",
    "load_digits_array": "dat_tf.data.digits",
    "mixture_modes": "dat_tf.data.toy",
    "mixture_weights": "dat_tf.data.toy",
    "sample_mixture": "dat_tf.data.toy",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
