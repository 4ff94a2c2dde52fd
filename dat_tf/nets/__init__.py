"""Network builders. Each returns built Keras models ``(generator, discriminator)``."""

from dat_tf.nets.dcgan import dcgan_discriminator, dcgan_generator, rfm_discriminator
from dat_tf.nets.mlp import mlp_discriminator, mlp_generator

__all__ = ["mlp_generator", "mlp_discriminator", "dcgan_generator", "dcgan_discriminator", "rfm_discriminator"]
from dat_tf.nets.infomax import InfoMaxTask, infomax_loss, infonce_loss  # noqa: E402
from dat_tf.nets.auxiliary import AuxiliaryTask, feature_model  # noqa: E402
from dat_tf.nets.sngan import sngan_discriminator, sngan_generator
from dat_tf.nets.ssgan import SSGANTask, rotate_batch, rotation_loss  # noqa: E402

__all__ += [
    "sngan_generator",
    "sngan_discriminator",
    "feature_model",
    "AuxiliaryTask",
    "SSGANTask",
    "rotate_batch",
    "rotation_loss",
    "InfoMaxTask",
    "infonce_loss",
    "infomax_loss",
]
from dat_tf.nets.registry import NETS, Net, get_net, register_net  # noqa: E402

__all__ += ["NETS", "Net", "get_net", "register_net"]
