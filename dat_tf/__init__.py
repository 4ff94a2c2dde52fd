"""dat_tf: Direct Adversarial Training for GANs in TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"

from dat_tf.gan import GAN  # noqa: E402
from dat_tf.losses import LOSSES, get_loss  # noqa: E402
from dat_tf.regularizers import REGULARIZERS, get_regularizer  # noqa: E402

__all__ = ["GAN", "LOSSES", "REGULARIZERS", "get_loss", "get_regularizer"]
