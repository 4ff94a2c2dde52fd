"""dat_tf: Direct Adversarial Training for GANs in TensorFlow 2 / Keras 3.

``GAN`` is the Keras model; losses and regularizers are chosen by name (or
passed as objects, saved with the model).  Running experiments from a config
lives in :mod:`dat_tf.train`; the paper's experiments in :mod:`dat_study`.

``import dat_tf`` loads no TensorFlow: the names below are imported on first
use (``from dat_tf import GAN`` imports TensorFlow and Keras; the loss and
regularizer registries do not), so command lines answer ``--help`` and reject
bad flags at once.  ``GAN`` is registered with Keras as soon as both ``dat_tf``
and Keras are imported, so ``import dat_tf`` before
``keras.models.load_model("gan.keras")`` is enough, as for any Keras library.
"""

__version__ = "0.1.0"

import importlib  # noqa: E402

from dat_tf.lazy import lazy_exports, when_all_imported  # noqa: E402

_EXPORTS = {
    "GAN": "dat_tf.gan",
    "GANLoss": "dat_tf.losses",
    "LOSSES": "dat_tf.losses",
    "get_loss": "dat_tf.losses",
    "register_loss": "dat_tf.losses",
    "REGULARIZERS": "dat_tf.regularizers",
    "Regularizer": "dat_tf.regularizers",
    "get_regularizer": "dat_tf.regularizers",
    "register": "dat_tf.regularizers",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


# Keras finds a saved GAN, and the layers of the saved nets, by their registered names: register them once Keras
# and TensorFlow are both imported (now, or when the later of the two finishes).
when_all_imported(
    ("keras", "tensorflow"), lambda: [importlib.import_module(m) for m in ("dat_tf.gan", "dat_tf.nets.layers")]
)
