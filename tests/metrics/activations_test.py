"""dat_tf.metrics.activations: batch iteration over every source kind, and batch-size invariance."""

import numpy as np
import pytest
import tensorflow as tf

from dat_tf.metrics import compute_activations, digits_classifier, fid, generator_sampler, iterate_batches
from dat_tf.metrics.classifiers import Classifier
from dat_tf.nets import dcgan_generator


class _Flatten(Classifier):
    """Features = the flattened image, logits = its first 3 pixels; counts the images it sees."""

    name = cache_key = "flatten"

    def __init__(self):
        super().__init__()
        self.seen = 0

    def __call__(self, images):
        self.seen += int(images.shape[0])
        return super().__call__(images)

    def _forward(self, images):
        flat = tf.reshape(images, [tf.shape(images)[0], -1])
        return flat, flat[:, :3]


@pytest.fixture
def images(rng):
    return rng.uniform(-1, 1, size=(53, 4, 4, 1)).astype(np.float32)


def _collect(source, **kw):
    return np.concatenate([np.asarray(b) for b in iterate_batches(source, **kw)])


def test_iterate_array_dataset_and_sampler(images):
    sizes = [len(b) for b in iterate_batches(images, batch_size=10)]
    assert sizes == [10, 10, 10, 10, 10, 3]
    np.testing.assert_array_equal(_collect(images, num_samples=25, batch_size=10), images[:25])
    ds = tf.data.Dataset.from_tensor_slices(images)
    np.testing.assert_array_equal(_collect(ds, batch_size=7), images)  # unbatched
    np.testing.assert_array_equal(_collect(ds.batch(20), batch_size=7, num_samples=30), images[:30])  # re-cut
    labelled = tf.data.Dataset.from_tensor_slices((images, np.arange(53)))
    np.testing.assert_array_equal(_collect(labelled, batch_size=8), images)
    calls = []

    def sampler(n):
        calls.append(n)
        return np.zeros((n, 4, 4, 1), np.float32)

    assert len(_collect(sampler, num_samples=23, batch_size=10)) == 23 and calls == [10, 10, 3]
    with pytest.raises(ValueError, match="num_samples"):
        list(iterate_batches(sampler))
    with pytest.raises(ValueError, match="holds only"):
        list(iterate_batches(images, num_samples=54))
    with pytest.raises(ValueError, match="ended after"):
        list(iterate_batches(ds, num_samples=54))
    with pytest.raises(TypeError, match="generator_sampler"):
        list(iterate_batches(dcgan_generator(latent_dim=2, resolution=8, channels=1, width=2), num_samples=3))


def test_compute_activations_is_batch_size_invariant(images):
    clf = _Flatten()
    f1, l1 = compute_activations(images, clf, batch_size=7)
    f2, l2 = compute_activations(images, clf, batch_size=1000)
    assert clf.seen == 2 * len(images)
    np.testing.assert_array_equal(f1, images.reshape(53, -1))
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(l1, l2)
    assert l1.shape == (53, 3)


def test_fid_over_generator_batches_equals_all_at_once():
    """Generated images scored in batches of 7 or 500 give one FID; the latents are the numpy stream of the seed."""
    gen = dcgan_generator(latent_dim=16, resolution=8, channels=1, width=8)
    clf = digits_classifier()
    real, _ = compute_activations(np.tanh(np.random.default_rng(1).normal(size=(300, 8, 8, 1))), clf)
    small, _ = compute_activations(generator_sampler(gen, seed=3), clf, num_samples=300, batch_size=7)
    big, _ = compute_activations(generator_sampler(gen, seed=3), clf, num_samples=300, batch_size=500)
    np.testing.assert_allclose(small, big, rtol=1e-5, atol=1e-5)
    full = fid(real, big)
    assert full > 0
    np.testing.assert_allclose(fid(real, small), full, rtol=1e-5)
    z = np.random.default_rng(3).standard_normal((300, 16)).astype(np.float32)  # the draw evaluate has always used
    direct, _ = compute_activations(gen(z, training=False).numpy(), clf)
    np.testing.assert_allclose(big, direct, rtol=1e-5, atol=1e-5)
    other, _ = compute_activations(generator_sampler(gen, seed=4), clf, num_samples=300)
    assert not np.allclose(other, big)  # a different seed draws different latents


def test_generator_sampler_runs_a_subclassed_generator_without_training_in_inference_mode(call_forms):
    forms, _ = call_forms
    generator = forms["call(x)"](outputs=4)
    generator(np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32), training=True)  # moves BatchNorm
    z = np.random.default_rng(5).standard_normal((6, 3)).astype(np.float32)  # the seed's numpy stream
    samples = generator_sampler(generator, seed=5)(6).numpy()
    np.testing.assert_allclose(samples, generator(z, training=False).numpy(), rtol=1e-6)
    assert not np.allclose(samples, generator(z, training=True).numpy(), atol=1e-3)
