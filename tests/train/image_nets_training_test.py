"""The SNGAN-family nets train through the same GAN model and driver (tiny width, digits at 32)."""

import os

import keras
import numpy as np
import pytest

from dat_tf.train.config import TrainConfig
from dat_tf.train.loop import train


@pytest.mark.parametrize("net", ["sngan", "ssgan", "infomaxgan"])
def test_one_dat_step_per_net(tmp_path, net):
    cfg = TrainConfig(
        dataset="digits", resolution=32, net=net, loss="hinge", regularizer="dat", n_dis=2, latent_dim=16,
        width=8, batch_size=8, n_iter=2, log_every=1, sample_every=0, steps_per_execution=1, verbose=0,
        run_dir=str(tmp_path / net),
    )
    gan, history = train(cfg)
    before = {k: v[0] for k, v in history.items()}
    assert all(np.isfinite(v[-1]) for v in history.values()), history
    assert history["perturbation_norm"][-1] > 0
    if net == "sngan":
        assert gan.auxiliary is None and "aux_d_loss" not in history
    else:
        assert history["aux_d_loss"][-1] > 0 and history["aux_g_loss"][-1] > 0
        # The heads are trained by D's optimizer.
        assert len(gan.d_optimizer.variables) > 2 * len(gan.discriminator.trainable_variables)
    del before
    # The whole model (with its auxiliary heads) saves and loads.
    again = keras.models.load_model(os.path.join(cfg.run_dir, "gan.keras"))
    z = np.random.default_rng(0).normal(size=(2, 16)).astype("float32")
    np.testing.assert_allclose(again.generator(z).numpy(), gan.generator(z).numpy(), rtol=1e-5, atol=1e-6)
    if gan.auxiliary is not None:
        for a, b in zip(gan.auxiliary.weights, again.auxiliary.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_weight_clipping_bounds_every_d_weight(tmp_path):
    cfg = TrainConfig(
        dataset="digits", net="dcgan", loss="wgan", d_weight_clip=0.01, width=8, batch_size=8, n_iter=3,
        log_every=3, sample_every=0, steps_per_execution=1, verbose=0, run_dir=str(tmp_path / "w"),
    )
    gan, _ = train(cfg)
    biggest = max(float(np.abs(v.numpy()).max()) for v in gan.discriminator.trainable_variables)
    assert biggest <= 0.01 + 1e-7
    unclipped, _ = train(TrainConfig(**{**cfg.to_dict(), "d_weight_clip": 0.0, "run_dir": str(tmp_path / "u")}))
    assert max(float(np.abs(v.numpy()).max()) for v in unclipped.discriminator.trainable_variables) > 0.01
