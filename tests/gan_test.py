"""GAN model: training with every loss and regularizer, n_dis, saving, seeding, bad input."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import data, nets, regularizers
from dat_tf.gan import GAN
from dat_tf.losses import LOSSES

LOSS_NAMES = sorted(LOSSES)
REG_NAMES = sorted(n for n, e in regularizers.REGULARIZERS.items() if e.cls.__module__.startswith("dat_tf."))
B = 8
PERTURBING = {"dat", "datt", "asgan", "ar", "rfm"}
PENALISING = {"gp", "zero_gp", "r1", "ar", "rfm"}  # lp is 0 while ||grad D|| <= 1


def make_gan(loss="ns", regularizer="none", n_dis=1, seed=0, init_seed=0, lr=1e-2, compile_kwargs=None, **kw):
    keras.utils.set_random_seed(init_seed)
    g = nets.mlp_generator(latent_dim=2, width=8, depth=2)
    d = nets.mlp_discriminator(width=8, depth=2)
    gan = GAN(g, d, latent_dim=2, loss=loss, regularizer=regularizer, n_dis=n_dis, seed=seed, **kw)
    gan.compile(keras.optimizers.Adam(lr, beta_1=0.5), keras.optimizers.Adam(lr, beta_1=0.5), **(compile_kwargs or {}))
    return gan


def weights(model):
    return [v.numpy().copy() for v in model.weights]


def mixture(n_dis=1, skip=0):
    return data.gaussian_mixture(B, n_dis=n_dis, seed=5).skip(skip)


def _check_history(hist, reg_name):
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "reg", "perturbation_norm", "grad_norm_real", "grad_norm_fake"):
        assert key in hist, key
        assert np.all(np.isfinite(hist[key])), (key, hist[key])
    if reg_name in PENALISING:
        assert hist["reg"][-1] > 0
    elif reg_name == "lp":
        assert hist["reg"][-1] >= 0
    else:
        assert hist["reg"][-1] == 0
    if reg_name in PERTURBING:
        assert hist["perturbation_norm"][-1] > 0
    else:
        assert hist["perturbation_norm"][-1] == 0


def _fit_and_check(loss, reg, run_eagerly):
    gan = make_gan(loss, reg, compile_kwargs={"run_eagerly": run_eagerly})
    d0, g0 = weights(gan.discriminator), weights(gan.generator)
    hist = gan.fit(mixture(), steps_per_epoch=2, epochs=1, verbose=0).history
    _check_history(hist, reg)
    assert any(not np.allclose(a, b) for a, b in zip(d0, weights(gan.discriminator)))
    assert any(not np.allclose(a, b) for a, b in zip(g0, weights(gan.generator)))
    assert all(np.all(np.isfinite(w)) for w in weights(gan))
    assert int(gan.g_steps.numpy()) == 2
    assert int(gan.d_optimizer.iterations.numpy()) == 2
    assert int(gan.g_optimizer.iterations.numpy()) == 2


@pytest.mark.parametrize("reg", REG_NAMES)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_loss_with_every_regularizer_trains(loss, reg):
    """All 50 pairs through ``fit`` in graph mode (the eager path is checked below)."""
    _fit_and_check(loss, reg, run_eagerly=False)


def test_graph_and_eager_steps_agree():
    a = make_gan("wgan", "dat", compile_kwargs={"run_eagerly": True})
    b = make_gan("wgan", "dat")
    a.fit(mixture(), steps_per_epoch=2, verbose=0)
    b.fit(mixture(), steps_per_epoch=2, verbose=0)
    for u, v in zip(weights(a), weights(b)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


# -----------------------------------------------------------------------------
# n_dis
# -----------------------------------------------------------------------------


class _Recorder(regularizers.Regularizer):
    """Plain loss; remembers the real batch of every D step (eager mode only)."""

    def __init__(self):
        self.seen = []

    def perturb(self, step):
        self.seen.append((step.real.numpy().copy(), step.fake.shape[0]))
        return super().perturb(step)


@pytest.mark.parametrize("n_dis", [1, 2, 3])
def test_n_dis_consumes_batches_of_n_dis_times_b(n_dis):
    rec = _Recorder()
    gan = make_gan("ns", rec, n_dis=n_dis, compile_kwargs={"run_eagerly": True})
    batches = [b.numpy() for b in mixture(n_dis).take(2)]
    assert all(b.shape == (n_dis * B, 2) for b in batches)
    hist = gan.fit(mixture(n_dis), steps_per_epoch=2, verbose=0).history
    assert len(rec.seen) == 2 * n_dis
    for step, batch in enumerate(batches):
        for k in range(n_dis):
            x_real, n_fake = rec.seen[step * n_dis + k]
            assert x_real.shape == (B, 2) and n_fake == B
            # The k-th D step takes examples k, k + n_dis, k + 2 n_dis, ...
            np.testing.assert_array_equal(x_real, batch[k::n_dis])
    assert int(gan.d_optimizer.iterations.numpy()) == 2 * n_dis
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    assert int(gan.g_steps.numpy()) == 2
    assert np.all(np.isfinite(hist["d_loss"]))


def test_n_dis_in_graph_mode_counts_steps():
    gan = make_gan("hinge", "dat", n_dis=2)
    gan.fit(mixture(2), steps_per_epoch=3, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 6
    assert int(gan.g_optimizer.iterations.numpy()) == 3


# -----------------------------------------------------------------------------
# Saving and resuming
# -----------------------------------------------------------------------------


def _optimizer_state(opt):
    # Keyed by the path without the optimizer's own (auto-numbered) name.
    return {v.path.split("/", 1)[-1]: v.numpy().copy() for v in opt.variables}


def _assert_same_state(a, b):
    z = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_array_equal(a.generator(z).numpy(), b.generator(z).numpy())
    np.testing.assert_array_equal(a.discriminator(z).numpy(), b.discriminator(z).numpy())
    assert int(a.g_steps.numpy()) == int(b.g_steps.numpy())
    for oa, ob in ((a.d_optimizer, b.d_optimizer), (a.g_optimizer, b.g_optimizer)):
        sa, sb = _optimizer_state(oa), _optimizer_state(ob)
        assert len(sa) == len(sb) and len(sa) > 2  # iterations, learning rate, moments
        for (ka, va), (kb, vb) in zip(sorted(sa.items()), sorted(sb.items())):
            assert ka == kb
            np.testing.assert_array_equal(va, vb, err_msg=ka)
        assert int(oa.iterations.numpy()) == int(ob.iterations.numpy()) > 0
        moments = [k for k in sa if "momentum" in k or "velocity" in k]
        assert moments and any(np.abs(sa[k]).max() > 0 for k in moments)


@pytest.mark.parametrize("how", ["keras_file", "weights_file"])
def test_save_and_load_restores_everything(how, tmp_path):
    reg = regularizers.get_regularizer("dat", epsilon=0.5, variant="reference")
    gan = make_gan("wgan", reg, n_dis=2, seed=11)
    gan.fit(mixture(2), steps_per_epoch=3, verbose=0)
    assert int(gan.g_steps.numpy()) == 3
    if how == "keras_file":
        path = str(tmp_path / "gan.keras")
        gan.save(path)
        loaded = keras.models.load_model(path)
        assert isinstance(loaded, GAN)
        assert loaded.regularizer.get_config() == reg.get_config()
        assert loaded.gan_loss.name == "wgan" and loaded.n_dis == 2 and loaded.seed == 11
    else:
        path = str(tmp_path / "gan.weights.h5")
        gan.save_weights(path)
        loaded = make_gan("wgan", reg, n_dis=2, seed=11, init_seed=99)
        assert not np.allclose(weights(loaded.generator)[0], weights(gan.generator)[0])
        loaded.load_weights(path)
    _assert_same_state(gan, loaded)

    # Training continues from where it stopped, and exactly as if never interrupted.
    loaded.fit(mixture(2, skip=3), steps_per_epoch=2, verbose=0)
    assert int(loaded.g_steps.numpy()) == 5
    assert int(loaded.d_optimizer.iterations.numpy()) == 10
    straight = make_gan("wgan", reg, n_dis=2, seed=11)
    straight.fit(mixture(2), steps_per_epoch=5, verbose=0)
    for u, v in zip(weights(straight.generator) + weights(straight.discriminator),
                    weights(loaded.generator) + weights(loaded.discriminator)):
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6)


def test_get_config_round_trip():
    gan = make_gan("lsgan", "gp", n_dis=2, seed=4, log_gradient_norms=False)
    again = GAN.from_config(gan.get_config())
    assert again.get_config()["regularizer"] == gan.get_config()["regularizer"]
    assert (again.latent_dim, again.n_dis, again.seed, again.log_gradient_norms) == (2, 2, 4, False)
    assert again.gan_loss.name == "lsgan"


# -----------------------------------------------------------------------------
# Seeds
# -----------------------------------------------------------------------------


@pytest.mark.parametrize("reg", ["dat", "gp"])
def test_same_seed_same_run_different_seed_different_run(reg):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        gan = make_gan("ns", reg, seed=seed)
        gan.fit(mixture(), steps_per_epoch=3, verbose=0)
        runs[name] = weights(gan.generator) + weights(gan.discriminator)
    for u, v in zip(runs["a"], runs["b"]):
        np.testing.assert_array_equal(u, v)
    assert any(not np.allclose(u, v, atol=1e-6) for u, v in zip(runs["a"], runs["c"]))


def test_latents_depend_on_seed_step_and_purpose():
    """Each generator step and each purpose (G's latents, the k-th D step's) gets its own draw."""
    gan = make_gan(seed=5)
    draws = {}
    for step in (0, 1):
        gan.g_steps.assign(step)
        for purpose in (0, 1, 3):
            draws[step, purpose] = gan._latents(4000, purpose).numpy()
    gan.g_steps.assign(0)
    np.testing.assert_array_equal(gan._latents(4000, 1).numpy(), draws[0, 1])
    other = make_gan(seed=6)
    assert not np.allclose(other._latents(4000, 1).numpy(), draws[0, 1])
    keys = sorted(draws)
    for i, a in enumerate(keys):
        z = draws[a]
        assert z.shape == (4000, 2)
        assert np.abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05  # standard normal
        for b in keys[i + 1 :]:
            assert abs(np.corrcoef(z.ravel(), draws[b].ravel())[0, 1]) < 0.05, (a, b)


def test_sample_is_seeded():
    gan = make_gan()
    a, b, c = gan.sample(7, batch_size=3), gan.sample(7, batch_size=3), gan.sample(7, seed=1)
    assert a.shape == (7, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# -----------------------------------------------------------------------------
# Bad input
# -----------------------------------------------------------------------------


def _nets():
    return nets.mlp_generator(latent_dim=2, width=4, depth=2), nets.mlp_discriminator(width=4, depth=2)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"loss": "wasserstein"}, "'wasserstein'"),
        ({"regularizer": "dta"}, "'dta'"),
        ({"regularizer": {"name": "dat", "config": {"epsilon": -0.5}}}, "-0.5"),
        ({"regularizer": {"name": "dat", "config": {"epsilon": math.nan}}}, "nan"),
        ({"regularizer": {"name": "asgan", "config": {"epsilon": -2.0}}}, "-2.0"),
        ({"n_dis": 0}, "0"),
        ({"n_dis": -3}, "-3"),
        ({"n_dis": 1.5}, "1.5"),
        ({"latent_dim": 3}, "latent_dim=3"),
        ({"seed": "abc"}, "'abc'"),
    ],
)
def test_bad_constructor_arguments(kwargs, needle):
    g, d = _nets()
    args = {"latent_dim": 2, **kwargs}
    with pytest.raises(ValueError) as info:
        GAN(g, d, **args)
    assert needle in str(info.value)
    if "loss" in kwargs or "regularizer" in kwargs and isinstance(kwargs["regularizer"], str):
        assert "expected one of" in str(info.value)


def test_generator_discriminator_shape_mismatch():
    g = nets.mlp_generator(latent_dim=2, data_dim=3, width=4, depth=2)
    d = nets.mlp_discriminator(data_dim=2, width=4, depth=2)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        GAN(g, d, latent_dim=2)


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_image_batch_of_wrong_shape(run_eagerly):
    keras.utils.set_random_seed(0)
    g = nets.dcgan_generator(latent_dim=4, resolution=8, channels=1, width=2)
    d = nets.dcgan_discriminator(resolution=8, channels=1, width=2)
    gan = GAN(g, d, latent_dim=4)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), run_eagerly=run_eagerly)
    bad = np.zeros((4, 16, 16, 1), np.float32)
    with pytest.raises(ValueError) as info:
        gan.fit(tf.data.Dataset.from_tensors(bad), verbose=0)
    assert "(16, 16, 1)" in str(info.value) and "(8, 8, 1)" in str(info.value)


@pytest.mark.parametrize("run_eagerly", [True, False])
def test_batch_smaller_than_n_dis(run_eagerly):
    """A batch with no full group of n_dis examples fails before training (remainders: gan_keras_path_test)."""
    gan = make_gan(n_dis=3, compile_kwargs={"run_eagerly": run_eagerly})
    x = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError) as info:
        gan.fit(tf.data.Dataset.from_tensors(x), verbose=0)
    assert "2 examples" in str(info.value) and "n_dis=3" in str(info.value)
    assert int(gan.g_steps.numpy()) == 0 and int(gan.d_optimizer.iterations.numpy()) == 0


def test_batch_smaller_than_n_dis_with_unknown_static_size():
    """Graph mode with a batch dimension of unknown size (``batch`` without
    ``drop_remainder``) can only fail at run time; the message still names both."""
    gan = make_gan(n_dis=3)
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((5, 2), np.float32)).batch(3)  # batches of 3 and 2
    assert ds.element_spec.shape[0] is None
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        gan.fit(ds, verbose=0)
    assert "n_dis=3" in str(info.value) and "[2]" in str(info.value)
    # The batch of 3 trained; the batch of 2 stopped fit before changing any weight.
    first_only = make_gan(n_dis=3)
    first_only.fit(ds.take(1), verbose=0)
    for u, v in zip(weights(first_only.generator) + weights(first_only.discriminator),
                    weights(gan.generator) + weights(gan.discriminator)):
        np.testing.assert_array_equal(u, v)


def test_compile_rejects_keras_arguments_and_shared_optimizer():
    g, d = _nets()
    gan = GAN(g, d, latent_dim=2)
    with pytest.raises(ValueError, match="optimizer="):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), optimizer="adam")
    with pytest.raises(ValueError, match="loss="):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), loss="mse")
    opt = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two different"):
        gan.compile(opt, opt)


def test_fit_before_compile_fails():
    g, d = _nets()
    gan = GAN(g, d, latent_dim=2)
    keras.Model.compile(gan, optimizer=None, run_eagerly=True)  # compiled by Keras, not by GAN
    with pytest.raises(RuntimeError, match="compile"):
        gan.fit(mixture(), steps_per_epoch=1, verbose=0)
