"""One replica and two replicas (two logical CPUs) must compute the same numbers.

docs/design.md, "DAT": DAT's batch means are global, so one replica with the
global batch and two replicas with half of it each give the same perturbation
and the same discriminator update.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import nets
from dat_tf import replicas as distributed
from dat_tf.critic import Critic
from dat_tf.gan import GAN
from dat_tf.losses import get_loss
from dat_tf.regularizers import DStep, get_regularizer

SEED = tf.constant([3, 4], tf.int64)

GLOBAL_BATCH = 8


def _per_replica(strategy, fn, *args):
    """Runs ``fn`` on every replica in a tf.function; returns each output's local results."""

    @tf.function
    def run():
        return strategy.run(fn, args=args)

    out = run()
    return tf.nest.map_structure(lambda t: [v.numpy() for v in strategy.experimental_local_results(t)], out)


# -----------------------------------------------------------------------------
# The helpers themselves
# -----------------------------------------------------------------------------


def test_helpers_outside_a_strategy():
    x = tf.constant([[1.0, 2.0], [3.0, 6.0]])
    assert distributed.num_replicas() == 1
    assert int(distributed.replica_id()) == 0
    assert float(distributed.global_mean(x)) == pytest.approx(3.0)
    assert float(distributed.global_batch_size(5)) == 5.0
    np.testing.assert_array_equal(distributed.global_sum(x).numpy(), x.numpy())
    got = distributed.replica_slice_of_global(lambda n: tf.range(n), 4)
    np.testing.assert_array_equal(got.numpy(), [0, 1, 2, 3])


def test_helpers_under_two_replicas(two_cpu_strategy):
    def fn():
        rid = distributed.replica_id()
        # Replica r holds [r*10 + 0, r*10 + 1, r*10 + 2].
        local = tf.cast(rid * 10 + tf.range(3), tf.float32)
        return {
            "n": tf.constant(distributed.num_replicas()),
            "id": rid,
            "sum": distributed.global_sum(tf.reduce_sum(local)),
            "mean": distributed.global_mean(local),
            "batch": distributed.global_batch_size(tf.shape(local)[0]),
            "slice": distributed.replica_slice_of_global(lambda n: tf.range(n) * 100, 3),
        }

    out = _per_replica(two_cpu_strategy, fn)
    assert [int(v) for v in out["n"]] == [2, 2]
    assert [int(v) for v in out["id"]] == [0, 1]
    everything = np.array([0, 1, 2, 10, 11, 12], np.float32)
    for r in range(2):
        assert float(out["sum"][r]) == pytest.approx(everything.sum())
        assert float(out["mean"][r]) == pytest.approx(everything.mean())
        assert float(out["batch"][r]) == 6.0
    np.testing.assert_array_equal(out["slice"][0], [0, 100, 200])
    np.testing.assert_array_equal(out["slice"][1], [300, 400, 500])


def test_global_mean_stops_gradients():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = distributed.global_mean(x) * 3.0 + tf.reduce_sum(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 1.0])


# -----------------------------------------------------------------------------
# DAT perturbation: 1 vs 2 replicas
# -----------------------------------------------------------------------------


def _initial_weights():
    keras.utils.set_random_seed(7)
    g = nets.mlp_generator(latent_dim=2, width=8, depth=3)
    d = nets.mlp_discriminator(width=8, depth=3)
    return g.get_weights(), d.get_weights()


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x_r = (rng.normal(size=(GLOBAL_BATCH, 2)) * 0.8 + 0.5).astype(np.float32)
    x_f = (rng.normal(size=(GLOBAL_BATCH, 2)) * 0.5 - 0.3).astype(np.float32)
    return x_r, x_f


def _perturbation(strategy, d_weights, reg, loss_name, x_r, x_f):
    with strategy.scope():
        d = nets.mlp_discriminator(width=8, depth=3)
        d.set_weights(d_weights)
    critic, loss = Critic(d), get_loss(loss_name)
    ds = tf.data.Dataset.from_tensor_slices((x_r, x_f)).batch(GLOBAL_BATCH)
    a, b = next(iter(strategy.experimental_distribute_dataset(ds)))

    @tf.function
    def run(a, b):
        return strategy.run(lambda r, f: reg.adversarial_examples(DStep(critic, loss, r, f, SEED)), args=(a, b))

    out = run(a, b)
    return [np.concatenate([v.numpy() for v in strategy.experimental_local_results(t)]) for t in out]


@pytest.mark.parametrize("variant", ["paper", "reference"])
@pytest.mark.parametrize("loss", ["ns", "wgan"])
def test_dat_perturbation_is_replica_independent(variant, loss, one_cpu_strategy, two_cpu_strategy):
    _, d_w = _initial_weights()
    x_r, x_f = _data()
    reg = get_regularizer("dat", variant=variant)
    one = _perturbation(one_cpu_strategy, d_w, reg, loss, x_r, x_f)
    two = _perturbation(two_cpu_strategy, d_w, reg, loss, x_r, x_f)
    for u, v in zip(one, two):
        assert u.shape == v.shape == (GLOBAL_BATCH, 2)
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-6)
    # And it equals the plain, strategy-free computation on the whole batch.
    d = nets.mlp_discriminator(width=8, depth=3)
    d.set_weights(d_w)
    plain = reg.adversarial_examples(DStep(Critic(d), get_loss(loss), tf.constant(x_r), tf.constant(x_f), SEED))
    for u, v in zip(plain, one):
        np.testing.assert_allclose(v, u.numpy(), rtol=1e-5, atol=1e-6)
    assert np.abs(one[2]).max() > 1e-4


@pytest.mark.parametrize("variant", ["paper", "reference"])
def test_local_batch_means_would_be_detected(variant, two_cpu_strategy, monkeypatch):
    """Control: with per-replica (local) means the two-replica perturbation differs,
    so the equality above really tests the all-reduce."""
    _, d_w = _initial_weights()
    x_r, x_f = _data()
    x_r[: GLOBAL_BATCH // 2] += 3.0  # make the two halves' means very different
    reg = get_regularizer("dat", variant=variant)
    good = _perturbation(two_cpu_strategy, d_w, reg, "wgan", x_r, x_f)
    monkeypatch.setattr(distributed, "global_sum", lambda x: tf.stop_gradient(x))
    bad = _perturbation(two_cpu_strategy, d_w, reg, "wgan", x_r, x_f)
    assert max(np.abs(g - b).max() for g, b in zip(good[2:], bad[2:])) > 1e-3


# -----------------------------------------------------------------------------
# First discriminator update: 1 vs 2 replicas
# -----------------------------------------------------------------------------


def _one_step(strategy, weights, regularizer, n_dis, x_r):
    g_w, d_w = weights
    with strategy.scope():
        g = nets.mlp_generator(latent_dim=2, width=8, depth=3)
        d = nets.mlp_discriminator(width=8, depth=3)
        g.set_weights(g_w)
        d.set_weights(d_w)
        gan = GAN(g, d, latent_dim=2, loss="ns", regularizer=regularizer, n_dis=n_dis, seed=3)
        # Plain SGD so that the update is proportional to the gradient (Adam's first
        # step is ~lr * sign(grad) and would hide a wrong gradient scale).
        gan.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5), steps_per_execution=1)
    ds = tf.data.Dataset.from_tensor_slices(x_r).batch(len(x_r), drop_remainder=True)
    hist = gan.fit(ds, epochs=1, verbose=0).history
    return [v.numpy() for v in d.weights], [v.numpy() for v in g.weights], hist, int(gan.g_steps.numpy())


@pytest.mark.parametrize(
    "regularizer, n_dis",
    [
        ({"name": "dat", "config": {"variant": "paper"}}, 1),
        ({"name": "dat", "config": {"variant": "reference"}}, 1),
        ({"name": "gp", "config": {"weight": 1.0}}, 1),
        ({"name": "datt", "config": {}}, 2),
        ({"name": "rfm", "config": {"epsilon": 0.1}}, 1),
        ({"name": "ar", "config": {"epsilon": 0.1, "reduction": "mean"}}, 1),
    ],
    ids=["dat-paper", "dat-reference", "gp", "datt-ndis2", "rfm-batch", "ar-mean"],
)
def test_first_update_is_replica_independent(regularizer, n_dis, one_cpu_strategy, two_cpu_strategy):
    weights = _initial_weights()
    rng = np.random.default_rng(1)
    x_r = (rng.normal(size=(n_dis * GLOBAL_BATCH, 2)) + 0.5).astype(np.float32)
    d1, g1, h1, s1 = _one_step(one_cpu_strategy, weights, regularizer, n_dis, x_r)
    d2, g2, h2, s2 = _one_step(two_cpu_strategy, weights, regularizer, n_dis, x_r)
    assert s1 == s2 == 1
    moved = max(np.abs(a - b).max() for a, b in zip(d1, weights[1]))
    assert moved > 1e-3  # the step really changed D
    for a, b in zip(d1, d2):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    for key in ("d_loss", "perturbation_norm", "reg"):
        np.testing.assert_allclose(h2[key][-1], h1[key][-1], rtol=1e-4, atol=1e-6)
