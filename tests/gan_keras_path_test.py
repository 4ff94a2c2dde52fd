"""The README's Keras path: batches ``fit`` cannot split by ``n_dis``, subclassed nets, XLA off by default."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import nets
from dat_tf.gan import GAN

MODES = {"eager": {"run_eagerly": True}, "graph": {}, "xla": {"jit_compile": True}}


def make_gan(n_dis=2, mode="graph", generator=None, discriminator=None, latent_dim=2, regularizer="none"):
    keras.utils.set_random_seed(0)
    g = generator or nets.mlp_generator(latent_dim=latent_dim, width=8, depth=2)
    d = discriminator or nets.mlp_discriminator(width=8, depth=2)
    gan = GAN(g, d, latent_dim=latent_dim, loss="ns", regularizer=regularizer, n_dis=n_dis, seed=7,
              log_gradient_norms=False)  # a smaller graph: XLA compiles faster
    gan.compile(keras.optimizers.Adam(1e-2, beta_1=0.5), keras.optimizers.Adam(1e-2, beta_1=0.5), **MODES[mode])
    return gan


def weights(gan):
    return [v.numpy().copy() for v in gan.generator.weights + gan.discriminator.weights]


def assert_same_weights(a, b):
    for u, v in zip(weights(a), weights(b), strict=True):
        np.testing.assert_array_equal(u, v)


def points(n, dim=2):
    return np.random.default_rng(1).normal(size=(n, dim)).astype(np.float32)


# -----------------------------------------------------------------------------
# Batches fit cannot split by n_dis (issue 10, break 2)
# -----------------------------------------------------------------------------


@pytest.mark.parametrize("n_dis, size", [(2, 17), (3, 10), (3, 3)])
@pytest.mark.parametrize("static", [True, False])
def test_real_batches_drop_the_remainder_and_split_the_rest_strided(n_dis, size, static):
    gan = make_gan(n_dis=n_dis)
    x = points(size)
    if static:
        chunks = [c.numpy() for c in gan._real_batches(x)]
    else:
        fn = tf.function(gan._real_batches, input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        chunks = [c.numpy() for c in fn(x)]
    kept = x[: size - size % n_dis]
    assert len(chunks) == n_dis
    for k, chunk in enumerate(chunks):
        np.testing.assert_array_equal(chunk, kept[k::n_dis])


@pytest.mark.parametrize("mode", sorted(MODES))
def test_numpy_remainder_trains_like_the_batches_without_it(mode):
    """21 examples by 8 with n_dis=2: batches of 8, 8 and 5; the last trains on its first 4,
    exactly as a dataset that held only those 4 in its last batch."""
    x = points(21)
    gan = make_gan(mode=mode)
    hist = gan.fit(x, batch_size=8, shuffle=False, verbose=0).history
    assert int(gan.g_steps.numpy()) == 3 and int(gan.d_optimizer.iterations.numpy()) == 6
    assert np.all(np.isfinite(hist["d_loss"]))
    reference = make_gan(mode=mode)
    reference.fit(tf.data.Dataset.from_tensor_slices(x[:20]).batch(8), verbose=0)  # 8, 8, 4
    assert_same_weights(gan, reference)
    assert any(not np.array_equal(u, v) for u, v in zip(weights(gan), weights(make_gan(mode=mode))))


def test_last_batch_below_n_dis_is_left_out():
    """17 examples by 8 with n_dis=2: the last batch (1 example) holds no group, so the
    last example is left out (with its y) before Keras batches, and every step trains."""
    x = points(17)
    gan = make_gan()
    gan.fit(x, np.zeros(17), batch_size=8, shuffle=False, epochs=2, verbose=0)
    assert int(gan.g_steps.numpy()) == 4
    reference = make_gan()
    reference.fit(x[:16], batch_size=8, shuffle=False, epochs=2, verbose=0)
    assert_same_weights(gan, reference)


@pytest.mark.parametrize("mode", ["graph", "xla"])
def test_digits_sized_data_with_the_readme_batch(mode):
    """The issue's case: 1,797 examples with ``batch_size=2*64`` and n_dis=2 (last batch: 5)."""
    g = nets.mlp_generator(latent_dim=4, data_dim=64, width=8, depth=2)
    d = nets.mlp_discriminator(data_dim=64, width=8, depth=2)
    gan = make_gan(mode=mode, generator=g, discriminator=d, latent_dim=4)
    hist = gan.fit(points(1797, dim=64), batch_size=2 * 64, epochs=1, verbose=0).history
    assert int(gan.g_steps.numpy()) == 15 and int(gan.d_optimizer.iterations.numpy()) == 30
    assert all(np.all(np.isfinite(v)) for v in hist.values())


TOO_SMALL = {
    "numpy_fewer_than_n_dis": (lambda: points(1), {}, "The data holds 1 examples"),
    "batch_size_below_n_dis": (lambda: points(10), {"batch_size": 1}, "batch_size=1"),
    "dataset_batches_below_n_dis": (
        lambda: tf.data.Dataset.from_tensor_slices(points(4)).batch(1, drop_remainder=True),
        {},
        "batches hold 1 examples",
    ),
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("case", sorted(TOO_SMALL))
def test_no_full_group_fails_before_training(case, mode):
    make_data, kwargs, needle = TOO_SMALL[case]
    gan = make_gan(mode=mode)
    before = weights(gan)
    with pytest.raises(ValueError) as info:
        gan.fit(make_data(), verbose=0, **kwargs)
    assert needle in str(info.value) and "n_dis=2" in str(info.value)
    assert gan.train_function is None  # nothing was traced, let alone run
    assert int(gan.g_steps.numpy()) == 0
    for u, v in zip(before, weights(gan)):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("mode", ["graph", "xla"])
def test_small_batch_of_unknown_size_fails_clearly_also_under_xla(mode):
    """XLA drops in-graph asserts; the check must still name n_dis, not fail in a reshape."""
    gan = make_gan(mode=mode)
    assert bool(gan.jit_compile) == (mode == "xla")
    ds = tf.data.Dataset.from_tensor_slices(points(5)).batch(4)  # batches of 4 and 1
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        gan.fit(ds, verbose=0)
    message = str(info.value)
    assert "n_dis=2" in message and "at least n_dis examples" in message and "[1]" in message


def test_train_on_batch_below_n_dis():
    gan = make_gan(n_dis=3)
    with pytest.raises(ValueError, match=r"n_dis=3 .* got a batch of 2"):
        gan.train_on_batch(points(2))


# -----------------------------------------------------------------------------
# XLA is off unless asked for (issue 10, break 4)
# -----------------------------------------------------------------------------


def test_compile_defaults_to_no_xla_even_where_keras_would_pick_it(monkeypatch):
    # Keras's "auto" picks XLA on a GPU; pretend this machine has one.
    monkeypatch.setattr(keras.Model, "_resolve_auto_jit_compile", lambda self: True)
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.compile(optimizer="adam", loss="mse")
    assert plain.jit_compile is True  # the pretence works
    gan = GAN(*_mlp_nets(), latent_dim=2)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    assert gan.jit_compile is False
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), jit_compile=True)
    assert gan.jit_compile is True


def _mlp_nets():
    return nets.mlp_generator(latent_dim=2, width=4, depth=2), nets.mlp_discriminator(width=4, depth=2)


# -----------------------------------------------------------------------------
# Subclassed and unbuilt nets (issue 10, break 3)
# -----------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="gan_keras_path_test")
class SubG(keras.Model):
    def __init__(self, data_dim=2, width=8, **kwargs):
        super().__init__(**kwargs)
        self.data_dim, self.width = data_dim, width
        self.hidden = keras.layers.Dense(width, activation="relu")
        self.head = keras.layers.Dense(data_dim)

    def call(self, z):
        return self.head(self.hidden(z))

    def get_config(self):
        return {**super().get_config(), "data_dim": self.data_dim, "width": self.width}


@keras.saving.register_keras_serializable(package="gan_keras_path_test")
class SubD(keras.Model):
    def __init__(self, width=8, outputs=1, **kwargs):
        super().__init__(**kwargs)
        self.width, self.outputs_per_example = width, outputs
        self.hidden = keras.layers.Dense(width, activation="relu")
        self.drop = keras.layers.Dropout(0.0)
        self.head = keras.layers.Dense(outputs)

    def call(self, x, training=None):
        return self.head(self.drop(self.hidden(x), training=training))

    def get_config(self):
        return {**super().get_config(), "width": self.width, "outputs": self.outputs_per_example}


def test_subclassed_nets_build_train_save_load_and_sample(tmp_path):
    gan = make_gan(generator=SubG(), discriminator=SubD(), latent_dim=3, regularizer="dat")
    assert gan.generator.built and gan.discriminator.built and gan._real_shape == (2,)
    hist = gan.fit(points(40), batch_size=8, verbose=0).history  # 5 steps
    assert int(gan.g_steps.numpy()) == 5 and np.all(np.isfinite(hist["d_loss"]))
    samples = gan.sample(6)
    assert samples.shape == (6, 2) and np.all(np.isfinite(samples))

    path = str(tmp_path / "subclassed.keras")
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.generator, SubG) and isinstance(loaded.discriminator, SubD)
    assert loaded.generator.width == 8 and loaded.n_dis == 2 and int(loaded.g_steps.numpy()) == 5
    assert_same_weights(gan, loaded)
    np.testing.assert_array_equal(loaded.sample(6), samples)
    x = points(4)
    np.testing.assert_array_equal(loaded.discriminator(x).numpy(), gan.discriminator(x).numpy())

    # Both continue identically.
    for model in (gan, loaded):
        model.fit(points(16), batch_size=8, shuffle=False, verbose=0)
    assert int(loaded.g_steps.numpy()) == 7
    for u, v in zip(weights(gan), weights(loaded)):
        np.testing.assert_allclose(v, u, rtol=1e-6, atol=1e-7)


FORMS = ["call(x)", "call(x, training=None)", "call(x, training=False)", "call(x, **kwargs)"]


def _compiled(gan):
    # SGD: with BatchNorm in D a shift of a whole batch is invisible, so some gradients are rounding noise,
    # which Adam would scale up to full steps.
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    return gan


@pytest.mark.parametrize("regularizer", ["dat", "gp"])
@pytest.mark.parametrize("form", FORMS)
def test_subclassed_nets_of_every_call_form_train_as_their_functional_twins(form, regularizer, call_forms):
    """G and D with BatchNorm, subclassed with each form of ``call``: the same steps, state and logs as the
    same nets built functionally (training mode everywhere, stateless perturbation and penalty passes)."""
    forms, twin = call_forms
    g, d = forms[form](outputs=2), forms[form]()
    sub = _compiled(GAN(g, d, latent_dim=3, regularizer=regularizer, n_dis=2, seed=7))  # builds g and d
    fun = _compiled(GAN(twin(g, 3), twin(d, 2), latent_dim=3, regularizer=regularizer, n_dis=2, seed=7))
    logs = [gan.fit(points(48), batch_size=16, shuffle=False, verbose=0).history for gan in (sub, fun)]
    assert int(sub.g_steps.numpy()) == 3
    for role in ("generator", "discriminator"):
        a, b = getattr(sub, role).weights, getattr(fun, role).weights
        assert len(a) == len(b) == 7  # moving statistics included: the perturbation moved none of them
        for u, v in zip(a, b):
            # Two graphs of the same sums round differently (GP's second derivatives most): 1e-3, where a
            # perturbation or penalty in inference mode, or one that moved the moving statistics, is off by O(1).
            np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-3, atol=1e-5, err_msg=f"{role} {u.path}")
    for name in ("d_loss", "reg", "perturbation_norm", "grad_norm_real"):
        assert logs[0][name][0] == pytest.approx(logs[1][name][0], rel=1e-3, abs=1e-5), name


@pytest.mark.parametrize("form", FORMS)
def test_subclassed_nets_of_every_call_form_save_load_sample_evaluate_and_export(form, call_forms, tmp_path):
    forms, _ = call_forms
    gan = _compiled(GAN(forms[form](outputs=2), forms[form](), latent_dim=3, regularizer="dat", n_dis=2, seed=7))
    gan.fit(points(32), batch_size=16, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.generator) is type(gan.generator) and type(loaded.discriminator) is type(gan.discriminator)
    assert int(loaded.g_steps.numpy()) == 2
    assert_same_weights(gan, loaded)
    np.testing.assert_array_equal(loaded.sample(5), gan.sample(5))
    assert loaded.evaluate(points(16), batch_size=16, verbose=0, return_dict=True) == pytest.approx(
        gan.evaluate(points(16), batch_size=16, verbose=0, return_dict=True))
    gan.export(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    z = points(4, dim=3)
    np.testing.assert_allclose(served.serve(z).numpy(), gan.predict(z, verbose=0), rtol=1e-6, atol=1e-6)
    for model in (gan, loaded):  # both continue identically
        model.fit(points(32), batch_size=16, shuffle=False, verbose=0)
    for u, v in zip(weights(gan), weights(loaded)):
        np.testing.assert_allclose(v, u, rtol=1e-6, atol=1e-7)


def test_sequential_nets_without_an_input_are_built():
    g = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    d = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    gan = make_gan(generator=g, discriminator=d, latent_dim=5)
    assert g.built and d.built and g.input_shape[1:] == (5,)
    gan.fit(points(16), batch_size=8, verbose=0)
    assert int(gan.g_steps.numpy()) == 2


@pytest.mark.parametrize(
    "make, latent_dim, needles",
    [
        (lambda: (SubG(data_dim=5), nets.mlp_discriminator(data_dim=2, width=4, depth=2)), 3, ["(5,)", "(2,)"]),
        (lambda: (SubG(), SubD(outputs=3)), 3, ["one logit per example", "(3,)"]),
        (
            lambda: (keras.Sequential([keras.layers.Reshape((2, 2))]), SubD()),
            3,
            ["generator", "latent_dim=3", "(2, 3)"],
        ),
        (
            lambda: (SubG(data_dim=2), keras.Sequential([keras.layers.Reshape((3,)), keras.layers.Dense(1)])),
            3,
            ["discriminator", "output shape (2,)"],
        ),
    ],
    ids=["shapes_differ", "d_outputs_three", "g_cannot_take_latents", "d_cannot_take_g_output"],
)
def test_nets_that_do_not_fit_together(make, latent_dim, needles):
    g, d = make()
    with pytest.raises(ValueError) as info:
        GAN(g, d, latent_dim=latent_dim)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))
