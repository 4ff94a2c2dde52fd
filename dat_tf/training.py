"""Builds and trains a run from a :class:`dat_tf.config.TrainConfig`.

``bin/train.py`` is a thin wrapper around :func:`train`; notebooks and the
experiment scripts call these functions directly.
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np

from dat_tf import data, nets
from dat_tf.callbacks import TensorBoardLogger
from dat_tf.config import TrainConfig
from dat_tf.gan import GAN
from dat_tf.regularizers import get_regularizer


def build_dataset(cfg: TrainConfig):
    """The ``tf.data`` pipeline of ``n_dis * batch_size`` batches for ``cfg``."""
    if cfg.dataset.startswith("mixture_"):
        kind = cfg.dataset.split("_", 1)[1]
        return data.gaussian_mixture(cfg.batch_size, kind=kind, std=cfg.mixture_std, n_dis=cfg.n_dis, seed=cfg.seed)
    if cfg.dataset == "digits":
        return data.digits(cfg.batch_size, n_dis=cfg.n_dis, resolution=cfg.resolution or None, seed=cfg.seed)
    raise ValueError(f"--dataset={cfg.dataset!r} is not allowed")


def data_shape(cfg: TrainConfig):
    if cfg.dataset.startswith("mixture_"):
        return (2,)
    res = cfg.resolution or 8
    return (res, res, 1)


def build_nets(cfg: TrainConfig):
    """``(generator, discriminator)`` for ``cfg``."""
    shape = data_shape(cfg)
    if cfg.net == "mlp":
        dim = int(np.prod(shape))
        g = nets.mlp_generator(cfg.latent_dim, dim, width=cfg.width)
        d = nets.mlp_discriminator(dim, width=cfg.width, spectral_norm=cfg.d_spectral_norm)
        if len(shape) > 1:
            g = keras.Sequential([g, keras.layers.Reshape(shape)], name="generator")
            d = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), d], name="discriminator")
        return g, d
    res, channels = shape[0], shape[-1]
    g = nets.dcgan_generator(cfg.latent_dim, resolution=res, channels=channels, width=cfg.width)
    d = nets.dcgan_discriminator(
        resolution=res, channels=channels, width=cfg.width, batch_norm=cfg.d_batch_norm,
        spectral_norm=cfg.d_spectral_norm,
    )
    return g, d


def build_gan(cfg: TrainConfig) -> GAN:
    """A compiled :class:`GAN` for ``cfg`` (call inside a strategy scope if any)."""
    cfg.validate()
    keras.utils.set_random_seed(cfg.seed)  # weight initialisation
    g, d = build_nets(cfg)
    reg = get_regularizer(cfg.regularizer, **cfg.regularizer_kwargs())
    gan = GAN(
        g, d, latent_dim=cfg.latent_dim, loss=cfg.loss, regularizer=reg, n_dis=cfg.n_dis, seed=cfg.seed,
        log_gradient_norms=cfg.log_gradient_norms,
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(cfg.lr_d, beta_1=cfg.beta1, beta_2=cfg.beta2),
        g_optimizer=keras.optimizers.Adam(cfg.lr_g, beta_1=cfg.beta1, beta_2=cfg.beta2),
        steps_per_execution=cfg.steps_per_execution,
    )
    return gan


def real_sample(cfg: TrainConfig, num: int = 2000):
    """Real points for plots (2D datasets only; ``None`` otherwise)."""
    if cfg.dataset.startswith("mixture_"):
        return data.sample_mixture(num, cfg.dataset.split("_", 1)[1], cfg.mixture_std, seed=cfg.seed + 10_000)
    return None


def train(cfg: TrainConfig, callbacks=(), until: int | None = None, gan: GAN | None = None, dataset=None):
    """Trains ``cfg`` (up to generator step ``until``, default ``cfg.n_iter``).

    Writes TensorBoard logs to ``run_dir/logs``, and at the end
    ``run_dir/config.json``, ``run_dir/gan.keras`` (the whole model) and
    ``run_dir/generator.keras``.

    Returns:
      ``(gan, history_dict)``.
    """
    cfg.validate()
    os.makedirs(cfg.run_dir, exist_ok=True)
    with open(os.path.join(cfg.run_dir, "config.json"), "w") as f:
        json.dump(cfg.to_dict(), f, indent=2, sort_keys=True)
    gan = gan or build_gan(cfg)
    dataset = dataset or build_dataset(cfg)
    until = cfg.n_iter if until is None else until
    done = int(keras.ops.convert_to_numpy(gan.g_steps))
    if until <= done:
        return gan, {}
    if (until - done) % cfg.log_every:
        steps_per_epoch = until - done
        epochs = 1
    else:
        steps_per_epoch = cfg.log_every
        epochs = (until - done) // cfg.log_every
    logger = TensorBoardLogger(
        os.path.join(cfg.run_dir, "logs"), sample_every=cfg.sample_every, real_data=real_sample(cfg),
        kind=cfg.sample_kind,
    )
    start = time.time()
    history = gan.fit(
        dataset, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=cfg.verbose, shuffle=False,
        callbacks=[logger, *callbacks],
    )
    history.history["wall_time_s"] = [time.time() - start]
    gan.save(os.path.join(cfg.run_dir, "gan.keras"))
    gan.generator.save(os.path.join(cfg.run_dir, "generator.keras"))
    return gan, history.history
