"""Offline data: the nine-Gaussian mixtures and the 8x8 digits."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from dat_tf import data

CHI2_CRIT = stats.chi2.ppf(0.999, df=8)  # 9 modes


def _mode_counts(x):
    # Points sit within a few std (<= 0.05 here) of their mode, so rounding finds it.
    idx = data.mixture_modes()
    nearest = np.argmin(np.linalg.norm(x[:, None, :] - idx[None], axis=-1), axis=1)
    return np.bincount(nearest, minlength=9)


def _chi2(counts, p):
    expected = counts.sum() * p
    return float(np.sum((counts - expected) ** 2 / expected))


def test_modes_are_the_grid_column_by_column():
    modes = data.mixture_modes()
    assert modes.shape == (9, 2) and modes.dtype == np.float32
    np.testing.assert_array_equal(modes, [[x, y] for x in (-1, 0, 1) for y in (-1, 0, 1)])


@pytest.mark.parametrize(
    "kind, columns", [("balanced", (1 / 3, 1 / 3, 1 / 3)), ("imbalanced", (0.15, 0.05, 0.8))]
)
def test_mixture_weights(kind, columns):
    p = data.mixture_weights(kind)
    assert p.shape == (9,)
    assert p.sum() == pytest.approx(1.0)
    modes = data.mixture_modes()
    for x, col in zip((-1.0, 0.0, 1.0), columns):
        np.testing.assert_allclose(p[modes[:, 0] == x], col / 3)  # left to right by column


def test_default_std_is_the_papers_variance():
    assert data.DEFAULT_STD == pytest.approx(math.sqrt(0.1))


@pytest.mark.parametrize("kind", ["balanced", "imbalanced"])
def test_sample_mixture_weights_and_noise(kind):
    std = 0.05
    x = data.sample_mixture(18000, kind=kind, std=std, seed=1)
    assert x.shape == (18000, 2) and x.dtype == np.float32
    p = data.mixture_weights(kind)
    counts = _mode_counts(x)
    assert _chi2(counts, p) < CHI2_CRIT
    other = data.mixture_weights("imbalanced" if kind == "balanced" else "balanced")
    assert _chi2(counts, other) > 10 * CHI2_CRIT  # the test can tell the two apart
    resid = x - data.mixture_modes()[np.argmin(np.linalg.norm(x[:, None] - data.mixture_modes()[None], axis=-1), 1)]
    assert resid.mean(axis=0) == pytest.approx([0, 0], abs=4 * std / math.sqrt(len(x)))
    assert resid.std(axis=0) == pytest.approx([std, std], rel=0.03)


def test_sample_mixture_default_std_and_seed():
    a = data.sample_mixture(20000, seed=3)
    b = data.sample_mixture(20000, seed=3)
    c = data.sample_mixture(20000, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Each coordinate: mixture of N(m, 0.1) with m uniform on {-1, 0, 1}: variance 2/3 + 0.1.
    assert a.var(axis=0) == pytest.approx([2 / 3 + 0.1] * 2, rel=0.04)


@pytest.mark.parametrize("kind", ["balanced", "imbalanced"])
@pytest.mark.parametrize("n_dis", [1, 3])
def test_gaussian_mixture_stream(kind, n_dis):
    b, std = 200, 0.05
    ds = data.gaussian_mixture(b, kind=kind, std=std, n_dis=n_dis, seed=2)
    batches = [t.numpy() for t in ds.take(30 // n_dis)]
    assert all(x.shape == (n_dis * b, 2) and x.dtype == np.float32 for x in batches)
    assert not np.array_equal(batches[0], batches[1])  # a stream, not one batch repeated
    x = np.concatenate(batches)
    counts = _mode_counts(x)
    assert _chi2(counts, data.mixture_weights(kind)) < CHI2_CRIT
    # Deterministic given the seed, different for another seed.
    again = next(iter(data.gaussian_mixture(b, kind=kind, std=std, n_dis=n_dis, seed=2))).numpy()
    np.testing.assert_array_equal(again, batches[0])
    other = next(iter(data.gaussian_mixture(b, kind=kind, std=std, n_dis=n_dis, seed=3))).numpy()
    assert not np.allclose(other, batches[0])


def test_gaussian_mixture_std():
    x = np.concatenate([t.numpy() for t in data.gaussian_mixture(500, std=0.1, seed=0).take(10)])
    modes = data.mixture_modes()
    resid = x - modes[np.argmin(np.linalg.norm(x[:, None] - modes[None], axis=-1), 1)]
    assert resid.std(axis=0) == pytest.approx([0.1, 0.1], rel=0.05)


@pytest.mark.parametrize(
    "call, bad",
    [
        (lambda: data.mixture_weights("uniform"), "'uniform'"),
        (lambda: data.sample_mixture(10, kind="skewed"), "'skewed'"),
        (lambda: data.sample_mixture(10, std=0.0), "0.0"),
        (lambda: data.sample_mixture(10, std=float("nan")), "nan"),
        (lambda: data.gaussian_mixture(0), "0"),
        (lambda: data.gaussian_mixture(8, n_dis=0), "n_dis"),
        (lambda: data.gaussian_mixture(8, std=-1.0), "-1.0"),
        (lambda: data.gaussian_mixture(8, kind="x"), "'x'"),
        (lambda: data.digits(4, split="val"), "'val'"),
        (lambda: data.digits(4, n_dis=-1), "-1"),
        (lambda: data.load_digits_array(resolution=0), "0"),
    ],
)
def test_bad_arguments(call, bad):
    with pytest.raises(ValueError) as info:
        call()
    assert bad in str(info.value)


def test_digits_array_range_and_splits():
    images, labels = data.load_digits_array()
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    assert images.min() == -1.0 and images.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))
    # Pixels are 0..16 in scikit-learn; x / 8 - 1 maps them onto a 17-level grid of [-1, 1].
    np.testing.assert_allclose((images + 1) * 8, np.round((images + 1) * 8), atol=1e-5)
    train, _ = data.load_digits_array(split="train")
    test, _ = data.load_digits_array(split="test")
    assert len(train) + len(test) == 1797
    assert len(test) == round(0.2 * 1797)
    flat = {im.tobytes() for im in images}
    assert len({im.tobytes() for im in train} | {im.tobytes() for im in test}) == len(flat)


@pytest.mark.parametrize("resolution", [None, 8, 16])
@pytest.mark.parametrize("n_dis", [1, 2])
def test_digits_stream(resolution, n_dis):
    b = 6
    r = resolution or 8
    batches = [t.numpy() for t in data.digits(b, n_dis=n_dis, resolution=resolution, seed=0).take(3)]
    for x in batches:
        assert x.shape == (n_dis * b, r, r, 1) and x.dtype == np.float32
        assert x.min() >= -1.0 and x.max() <= 1.0
    assert not np.array_equal(batches[0], batches[1])
    again = next(iter(data.digits(b, n_dis=n_dis, resolution=resolution, seed=0))).numpy()
    np.testing.assert_array_equal(again, batches[0])


def test_digits_stream_repeats_forever():
    # 1,438 training images / 500 per batch: a fourth batch needs a second pass.
    batches = list(data.digits(500, seed=1).take(4))
    assert len(batches) == 4


def test_batch_for_gan():
    ds = data.batch_for_gan(tf.data.Dataset.range(20), batch_size=3, n_dis=2)
    got = [b.numpy() for b in ds]
    assert [len(b) for b in got] == [6, 6, 6]  # remainder dropped
    np.testing.assert_array_equal(np.concatenate(got), np.arange(18))
    assert ds.element_spec.shape[0] == 6
