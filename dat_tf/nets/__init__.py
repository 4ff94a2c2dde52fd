"""Network builders. Each returns built Keras models ``(generator, discriminator)``.

The names below load their module (and TensorFlow) on first use, so importing
:mod:`dat_tf.nets.registry` for flag checks stays fast.
"""

from dat_tf.lazy import lazy_exports

_EXPORTS = {
    "mlp_generator": "dat_tf.nets.mlp",
    "mlp_discriminator": "dat_tf.nets.mlp",
    "dcgan_generator": "dat_tf.nets.dcgan",
    "dcgan_discriminator": "dat_tf.nets.dcgan",
    "rfm_discriminator": "dat_tf.nets.dcgan",
    "sngan_generator": "dat_tf.nets.sngan",
    "sngan_discriminator": "dat_tf.nets.sngan",
    "feature_model": "dat_tf.nets.auxiliary",
    "AuxiliaryTask": "dat_tf.nets.auxiliary",
    "SSGANTask": "dat_tf.nets.ssgan",
    "rotate_batch": "dat_tf.nets.ssgan",
    "rotation_loss": "dat_tf.nets.ssgan",
    "InfoMaxTask": "dat_tf.nets.infomax",
    "infonce_loss": "dat_tf.nets.infomax",
    "infomax_loss": "dat_tf.nets.infomax",
    "NETS": "dat_tf.nets.registry",
    "Net": "dat_tf.nets.registry",
    "get_net": "dat_tf.nets.registry",
    "register_net": "dat_tf.nets.registry",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
