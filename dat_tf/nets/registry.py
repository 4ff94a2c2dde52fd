"""Nets by name: which data each takes and how to build ``(generator, discriminator)``.

Registered once with :func:`register_net`; the run config validates ``--net``
against it and the training loop builds from it.  Importing this module loads
no TensorFlow (the builders import what they need), so flag checks stay fast.

Example:

>>> g, d = get_net("dcgan").build((16, 16, 1), latent_dim=8, width=8)
>>> g.output_shape, d.input_shape
((None, 16, 16, 1), (None, 16, 16, 1))
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from dat_tf.registry import Registry, caller_module


@dataclasses.dataclass(frozen=True)
class Net:
    """A registered net.

    Attributes:
      name: the ``--net`` value.
      help: one line for flag help and docs.
      build: ``build(shape, *, latent_dim, width=None, d_batch_norm=True,
        d_spectral_norm=False, d_sigmoid=False) -> (generator, discriminator)`` for examples of
        ``shape``; ``width`` None means the net's default.
      check: ``check(shape) -> None or a sentence`` saying why the net cannot
        take examples of ``shape``.
      auxiliary: ``auxiliary() -> AuxiliaryTask`` (SSGAN, InfoMax-GAN) or ``None``.
    """

    name: str
    help: str
    build: Callable
    check: Callable
    auxiliary: Callable | None = None


NETS = Registry("net")
"""Name -> :class:`Net`, in registration order (a :class:`dat_tf.registry.Registry`)."""


def register_net(net: Net) -> Net:
    """Makes ``net`` the ``--net`` value ``net.name``; a name another module registered is refused."""
    return NETS.add(net.name, net, owner=caller_module())


def get_net(name: str) -> Net:
    """The net called ``name``; raises ``ValueError`` naming it, the valid names and the closest one."""
    return NETS.lookup(name)


# ----------------------------------------------------------------------------- built-in nets


def _mlp(shape, *, latent_dim, width=None, d_spectral_norm=False, **_):
    import keras
    import numpy as np

    from dat_tf.nets.mlp import mlp_discriminator, mlp_generator

    width = width or 64
    dim = int(np.prod(shape))
    g = mlp_generator(latent_dim, dim, width=width)
    d = mlp_discriminator(dim, width=width, spectral_norm=d_spectral_norm)
    if len(shape) > 1:
        g = keras.Sequential([g, keras.layers.Reshape(shape)], name="generator")
        d = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), d], name="discriminator")
    return g, d


def _dcgan(shape, *, latent_dim, width=None, d_batch_norm=True, d_spectral_norm=False, **_):
    from dat_tf.nets.dcgan import dcgan_discriminator, dcgan_generator

    width = width or 64
    res, channels = shape[0], shape[-1]
    g = dcgan_generator(latent_dim, resolution=res, channels=channels, width=width)
    d = dcgan_discriminator(resolution=res, channels=channels, width=width, batch_norm=d_batch_norm,
                            spectral_norm=d_spectral_norm)
    return g, d


def _dcgan_rfm(shape, *, latent_dim, width=None, d_sigmoid=False, **_):
    from dat_tf.nets.dcgan import dcgan_generator, rfm_discriminator

    width = width or 64
    res, channels = shape[0], shape[-1]
    g = dcgan_generator(latent_dim, resolution=res, channels=channels, width=width)
    return g, rfm_discriminator(resolution=res, channels=channels, width=width, sigmoid=d_sigmoid)


def _sngan(shape, *, latent_dim, width=None, **_):
    from dat_tf.nets.sngan import sngan_discriminator, sngan_generator

    res, channels = shape[0], shape[-1]
    return (sngan_generator(res, latent_dim=latent_dim, width=width, channels=channels),
            sngan_discriminator(res, width=width, channels=channels))


def _any_shape(shape):
    return None


def _images_power_of_two(shape):
    res = shape[0] if len(shape) == 3 else 0
    if res < 8 or res & (res - 1):
        return f"takes square images of a power-of-two size >= 8, not examples of shape {tuple(shape)}"
    return None


def _images_32_48_64(shape):
    if len(shape) != 3 or shape[0] not in (32, 48, 64):
        return f"takes 32x32, 48x48 or 64x64 images, not examples of shape {tuple(shape)}"
    return None


def _ssgan_task():
    from dat_tf.nets.ssgan import SSGANTask

    return SSGANTask()


def _infomax_task():
    from dat_tf.nets.infomax import InfoMaxTask

    return InfoMaxTask()


register_net(Net("mlp", "4-layer MLPs (Figure 3; images are flattened)", _mlp, _any_shape))
register_net(Net("dcgan", "DCGAN: 4 conv + BatchNorm (Figures 4-5, Table 3)", _dcgan, _images_power_of_two))
register_net(Net("dcgan_rfm", "DCGAN G + the AR/RFM code base's D: BatchNorm after every conv, no spectral norm, "
                 "optional sigmoid (Table 3)", _dcgan_rfm, _images_power_of_two))
register_net(Net("sngan", "mimicry's SNGAN ResNets at 32/48/64 (Tables 1-2)", _sngan, _images_32_48_64))
register_net(Net("ssgan", "SNGAN ResNets + SSGAN's rotation task", _sngan, _images_32_48_64, _ssgan_task))
register_net(Net("infomaxgan", "SNGAN ResNets + InfoMax-GAN's contrastive task", _sngan, _images_32_48_64,
                 _infomax_task))
