"""Training data: the 2D mixtures, the offline digits, tfds datasets and image folders.

Every pipeline yields float32 batches of ``n_dis * batch_size`` examples, the unit
:class:`dat_tf.GAN` consumes per generator step.
"""

from dat_tf.data.batching import batch_for_gan
from dat_tf.data.digits import digits, load_digits_array
from dat_tf.data.errors import BadImagesError, DatasetNotFoundError, DatasetUnavailableError
from dat_tf.data.toy import DEFAULT_STD, gaussian_mixture, mixture_modes, mixture_weights, sample_mixture

__all__ = [
    "DEFAULT_STD",
    "BadImagesError",
    "DatasetNotFoundError",
    "DatasetUnavailableError",
    "batch_for_gan",
    "digits",
    "gaussian_mixture",
    "load_digits_array",
    "mixture_modes",
    "mixture_weights",
    "sample_mixture",
]
