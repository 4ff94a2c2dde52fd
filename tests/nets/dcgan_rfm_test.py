"""The AR/RFM code base's DCGAN discriminator (Table 3's D): structure, features, sigmoid, training."""

import keras
import numpy as np
import pytest

from dat_tf.nets.dcgan import rfm_discriminator
from dat_tf.nets.registry import get_net
from dat_tf.train.config import TrainConfig


def _param_count(resolution, channels, width):
    """Closed form: k bias-free 4x4 convs (width * 2**i channels), one BN each (4 numbers per channel),
    a bias-free 4x4 valid conv (a dense layer) on the 4x4 map to one output."""
    k = int(np.log2(resolution // 4))
    widths = [width * 2**i for i in range(k)]
    convs = sum(16 * c_in * c_out for c_in, c_out in zip([channels] + widths[:-1], widths))
    return convs + 4 * sum(widths) + 16 * widths[-1]


@pytest.mark.parametrize("resolution, channels, width", [(32, 3, 8), (16, 1, 4), (64, 3, 4)])
def test_structure_matches_the_code_base(resolution, channels, width):
    d = rfm_discriminator(resolution=resolution, channels=channels, width=width)
    k = int(np.log2(resolution // 4))
    convs = [l for l in d.layers if isinstance(l, keras.layers.Conv2D)]
    bns = [l for l in d.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(convs) == len(bns) == k, "BatchNorm after every convolution, the first included"
    assert all(not c.use_bias for c in convs) and not d.get_layer("logit").use_bias
    assert not [l for l in d.layers if isinstance(l, keras.layers.SpectralNormalization)]
    assert [l.negative_slope for l in d.layers if isinstance(l, keras.layers.LeakyReLU)] == [0.2] * k
    assert d.count_params() == _param_count(resolution, channels, width)
    # RFM's phi: the last stride-2 convolution's output, before its BatchNorm.
    assert d.get_layer("features").output.shape == (None, 4, 4, width * 2 ** (k - 1))
    assert bns[-1].input is d.get_layer("features").output


def test_batchnorm_gammas_and_weights_are_drawn_as_in_the_code_base():
    keras.utils.set_random_seed(0)
    d = rfm_discriminator(resolution=64, channels=3, width=64)
    gammas = np.concatenate([l.gamma.numpy() for l in d.layers if isinstance(l, keras.layers.BatchNormalization)])
    kernels = np.concatenate([l.kernel.numpy().ravel() for l in d.layers if isinstance(l, keras.layers.Conv2D)])
    assert abs(gammas.mean() - 1.0) < 0.005 and abs(gammas.std() - 0.02) < 0.003, (gammas.mean(), gammas.std())
    assert abs(kernels.mean()) < 0.001 and abs(kernels.std() - 0.02) < 0.001, (kernels.mean(), kernels.std())


def test_sigmoid_output_is_the_sigmoid_of_the_logit(rng):
    keras.utils.set_random_seed(1)
    with_sigmoid = rfm_discriminator(resolution=16, channels=1, width=4, sigmoid=True)
    keras.utils.set_random_seed(1)
    plain = rfm_discriminator(resolution=16, channels=1, width=4)
    x = rng.uniform(-1, 1, size=(5, 16, 16, 1)).astype("float32")
    logit = plain(x, training=False).numpy()
    np.testing.assert_allclose(with_sigmoid(x, training=False).numpy(), 1 / (1 + np.exp(-logit)), rtol=1e-5, atol=1e-6)


def test_registered_and_checked_by_the_config():
    g, d = get_net("dcgan_rfm").build((16, 16, 1), latent_dim=8, width=4, d_sigmoid=True)
    assert g.output_shape == (None, 16, 16, 1) and d.get_layer("probability") is not None
    TrainConfig(dataset="digits", resolution=16, net="dcgan_rfm", loss="lsgan", d_sigmoid=True).validate()
    with pytest.raises(ValueError, match="--d_sigmoid is not allowed with --net='dcgan'"):
        TrainConfig(dataset="digits", resolution=16, net="dcgan", loss="lsgan", d_sigmoid=True).validate()
    with pytest.raises(ValueError, match="--d_sigmoid is not allowed with --loss=ns"):
        TrainConfig(dataset="digits", resolution=16, net="dcgan_rfm", d_sigmoid=True).validate()


def test_a_stored_config_from_before_d_sigmoid_means_no_sigmoid():
    stored = TrainConfig(dataset="digits", resolution=16, net="dcgan").to_dict()
    del stored["d_sigmoid"]
    assert TrainConfig.from_dict(stored).d_sigmoid is False


@pytest.mark.parametrize("regularizer", ["rfm", "dat"])
def test_trains_with_rfm_on_its_features(tmp_path, regularizer):
    from dat_tf.train.loop import train

    cfg = TrainConfig(dataset="digits", resolution=16, net="dcgan_rfm", width=4, latent_dim=8, loss="wgan",
                      d_sigmoid=True, regularizer=regularizer, batch_size=8, n_iter=2, log_every=1,
                      checkpoint_every=0, sample_every=0, verbose=0, steps_per_execution=1,
                      run_dir=str(tmp_path / "run"))
    gan, history = train(cfg)
    assert int(gan.g_steps.numpy()) == 2
    assert all(np.isfinite(history[k]).all() for k in ("d_loss", "g_loss", "reg"))
    d_real = np.asarray(history["d_real"])
    assert ((0 < d_real) & (d_real < 1)).all(), "with the sigmoid D's output is a probability"
    if regularizer == "rfm":
        assert min(history["reg"]) > 0


def test_rfm_compares_the_code_bases_phi(rng):
    """The critic's features default to D's "features" layer: here the last stride-2 conv, before its BN."""
    from dat_tf.critic import Critic

    d = rfm_discriminator(resolution=16, channels=1, width=4)
    x = rng.uniform(-1, 1, size=(3, 16, 16, 1)).astype("float32")
    phi, _ = Critic(d).features_and_scores(x)
    conv_out = keras.Model(d.inputs, d.get_layer("features").output)(x, training=True).numpy()
    np.testing.assert_allclose(phi.numpy(), conv_out.reshape(3, -1), rtol=1e-5, atol=1e-6)
