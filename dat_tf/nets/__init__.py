"""Network builders. Each returns built Keras models ``(generator, discriminator)``."""

from dat_tf.nets.dcgan import dcgan_discriminator, dcgan_generator
from dat_tf.nets.mlp import mlp_discriminator, mlp_generator

__all__ = ["mlp_generator", "mlp_discriminator", "dcgan_generator", "dcgan_discriminator"]
