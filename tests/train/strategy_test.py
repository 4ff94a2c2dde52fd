"""Strategies end to end: 2 replicas equal 1, mixed precision, XLA, sync BN, multi-worker on localhost."""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import nets
from dat_tf.train.config import TrainConfig
from dat_tf.train.strategy import is_chief, make_strategy, worker_dir
from dat_tf.train.loop import build_gan, train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cfg(tmp_path, name, **kw):
    base = dict(
        dataset="mixture_balanced", width=16, batch_size=32, n_dis=2, n_iter=5, log_every=5, sample_every=0,
        steps_per_execution=1, verbose=0, seed=3, run_dir=str(tmp_path / name),
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("reg", ["none", "gp", "dat"])
def test_two_replicas_equal_one_after_full_iterations(tmp_path, reg, two_cpu_strategy):
    one, h1 = train(_cfg(tmp_path, "one", regularizer=reg))
    two, h2 = train(_cfg(tmp_path, "two", regularizer=reg, strategy="mirrored", num_devices=2))
    assert two.distribute_strategy.num_replicas_in_sync == 2
    for a, b in zip(one.generator.weights + one.discriminator.weights, two.generator.weights + two.discriminator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=2e-6)
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "perturbation_norm"):
        np.testing.assert_allclose(h1[key][-1], h2[key][-1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_with_float32_variables(tmp_path, precision):
    cfg = _cfg(tmp_path, precision, dataset="digits", net="dcgan", regularizer="dat", width=8, precision=precision)
    gan, history = train(cfg)
    assert all(np.isfinite(v[-1]) for v in history.values())
    compute = {layer.dtype_policy.compute_dtype for layer in gan.generator.layers[1:]}
    assert compute == {precision.split("_")[1]}
    assert {w.dtype for w in gan.generator.trainable_weights} == {"float32"}
    assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")
    assert keras.mixed_precision.dtype_policy().name == "float32"  # restored for the next run


@pytest.mark.parametrize("reg", ["dat", "datt", "r1", "asgan"])
def test_xla_regularizer_matches_graph(reg):
    """The regularizers' deterministic work (perturbations, penalties) is the same under XLA.

    (Random draws are not: XLA's stateless RNG kernels give other numbers than TensorFlow's
    for seeds computed at run time, so an --xla run differs from a plain run of the same seed.)
    """
    from dat_tf.critic import Critic
    from dat_tf.losses import get_loss
    from dat_tf.regularizers import DStep, get_regularizer

    rng = np.random.default_rng(0)
    x_r = tf.constant(rng.normal(size=(16, 2)).astype("float32"))
    x_f = tf.constant(rng.normal(size=(16, 2)).astype("float32"))
    critic = Critic(nets.mlp_discriminator(width=16))
    regularizer, loss = get_regularizer(reg), get_loss("ns")

    def terms():
        step = DStep(critic, loss, x_r, x_f, tf.constant([1, 2], tf.int64))
        pert = regularizer.perturb(step)
        penalty = regularizer.penalty(step, pert)
        d_loss = loss.discriminator_loss(critic.score(pert.real), critic.score(pert.fake)) + penalty
        return pert.real, pert.fake, d_loss, penalty

    plain = tf.function(terms)()
    xla = tf.function(terms, jit_compile=True)()
    for a, b in zip(plain, xla):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


def test_xla_fit_is_reproducible(tmp_path):
    # Keras traces fit's step with relaxed (dynamic) shapes; a stateless random draw with a
    # dynamic shape compiles to other numbers under XLA, so --xla runs differ from plain runs
    # of the same seed, but are reproducible themselves.
    a, _ = train(_cfg(tmp_path, "a", regularizer="dat", xla=True))
    b, _ = train(_cfg(tmp_path, "b", regularizer="dat", xla=True))
    for x, y in zip(a.generator.weights, b.generator.weights):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_sync_batch_norm_only_in_generator(tmp_path, two_cpu_strategy):
    cfg = _cfg(tmp_path, "sync", dataset="digits", net="dcgan", width=8, sync_batch_norm=True, strategy="mirrored",
               num_devices=2)
    gan = build_gan(cfg)
    g_bn = [l for l in gan.generator.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert g_bn and all(l.synchronized for l in g_bn)


def test_bad_strategy_settings(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="--strategy=multi_worker needs TF_CONFIG"):
        make_strategy("multi_worker")
    with pytest.raises(ValueError, match="--strategy='gpu'"):
        make_strategy("gpu")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        is_chief()


def test_batch_not_divisible_by_the_replicas_is_refused_before_training(tmp_path, two_cpu_strategy):
    cfg = _cfg(tmp_path, "odd", batch_size=7)
    with pytest.raises(ValueError, match=r"--batch_size=7 is not divisible by the 2 replicas"):
        build_gan(cfg, strategy=two_cpu_strategy)


def test_chief_and_worker_dirs(monkeypatch):
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert is_chief() and worker_dir("r") == "r"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert not is_chief() and worker_dir("r") == os.path.join("r", ".worker1")


def _ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_on_localhost(tmp_path):
    ports = _ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run_dir = tmp_path / "mw"
    args = [
        sys.executable, os.path.join(ROOT, "bin", "train.py"), "--strategy=multi_worker", "--dataset=mixture_balanced",
        "--width=16", "--batch_size=32", "--n_iter=6", "--log_every=3", "--regularizer=dat", "--verbose=0",
        "--steps_per_execution=1", "--sample_every=0", f"--run_dir={run_dir}",
    ]
    procs = []
    for i in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=240))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("multi-worker run did not finish in 240 s")
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    chief = keras.models.load_model(run_dir / "generator.keras")
    other = keras.models.load_model(run_dir / ".worker1" / "generator.keras")
    for a, b in zip(chief.weights, other.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert "finished 6 generator steps" in outs[0][0]
