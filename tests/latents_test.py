"""dat_tf.latents: each kind of draw gives the numbers its call sites have always drawn."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf.gan import GAN
from dat_tf.latents import latent_dim_of, numpy_stream, stateless, tf_stream


def test_stateless_is_a_pure_function_of_the_seed():
    a = stateless([7, 1], 6, 3)
    np.testing.assert_array_equal(a.numpy(), tf.random.stateless_normal([6, 3], seed=[7, 1], alg="philox").numpy())
    np.testing.assert_array_equal(stateless([7, 1], 6, 3).numpy(), a.numpy())
    assert not np.allclose(stateless([7, 2], 6, 3).numpy(), a.numpy())


def test_numpy_stream_is_the_sequential_default_rng_stream():
    want = np.random.default_rng(11).standard_normal((10, 4)).astype(np.float32)
    draw = numpy_stream(11, 4)
    got = np.concatenate([draw(3), draw(0), draw(7)])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_gan_sample_draws_the_tf_generator_stream_it_always_drew():
    g = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    gan = GAN(g, d, latent_dim=3, seed=5)
    gen = tf.random.Generator.from_seed(9)  # the pre-latents.py GAN.sample, written out
    want = np.concatenate([g(gen.normal([n, 3]), training=False).numpy() for n in (4, 4, 2)])
    np.testing.assert_array_equal(gan.sample(10, seed=9, batch_size=4), want)
    draw = tf_stream(5, 3)
    np.testing.assert_array_equal(gan.sample(3), g(draw(3), training=False).numpy())  # default: the model's seed


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="latent_dim must be an integer >= 1, got 0"):
        numpy_stream(0, 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        numpy_stream(-1, 2)
    with pytest.raises(ValueError, match="n must be an integer >= 0, got 2.5"):
        tf_stream(0, 2)(2.5)
    with pytest.raises(ValueError, match="n must be an integer >= 0, got -1"):
        stateless([0, 0], -1, 2)
    assert latent_dim_of(keras.Sequential([keras.Input((7,)), keras.layers.Dense(2)])) == 7
    with pytest.raises(ValueError, match="cannot read the latent size"):
        latent_dim_of(keras.Sequential([keras.Input((4, 4)), keras.layers.Dense(2)]))


def test_latent_dim_of_a_subclassed_generator_is_the_shape_it_was_built_with(call_forms):
    generator = call_forms[0]["call(x)"](outputs=2)
    with pytest.raises(ValueError, match="cannot read the latent size"):
        latent_dim_of(generator)  # not built yet
    generator(np.zeros((2, 5), np.float32))
    assert latent_dim_of(generator) == 5
