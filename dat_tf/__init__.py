"""dat_tf: Direct Adversarial Training for GANs in TensorFlow 2 / Keras 3.

``GAN`` is the Keras model; losses and regularizers are chosen by name (or
passed as objects, saved with the model).  Running experiments from a config
lives in :mod:`dat_tf.train`; the paper's experiments in :mod:`dat_tf.experiments`.
"""

__version__ = "0.1.0"

from dat_tf.gan import GAN  # noqa: E402
from dat_tf.losses import LOSSES, GANLoss, get_loss, register_loss  # noqa: E402
from dat_tf.regularizers import REGULARIZERS, Regularizer, get_regularizer, register  # noqa: E402

__all__ = ["GAN", "GANLoss", "LOSSES", "REGULARIZERS", "Regularizer", "get_loss", "get_regularizer", "register",
           "register_loss"]
