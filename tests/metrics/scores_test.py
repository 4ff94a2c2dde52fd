"""dat_tf.metrics.scores: the fid / kid / inception_score wrappers against numpy and scipy."""

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from dat_tf.metrics import fid, inception_score, kid


def _np_fid(a, b):
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real))


def test_fid_matches_scipy_and_accepts_float32(rng):
    a = rng.normal(size=(300, 10))
    b = rng.normal(size=(250, 10)) * 1.3 + 0.2
    np.testing.assert_allclose(fid(a, b), _np_fid(a, b), rtol=1e-4)
    np.testing.assert_allclose(fid(a.astype(np.float32), b.astype(np.float32)), _np_fid(a, b), rtol=1e-4)


def test_fid_of_a_set_with_itself_is_zero(rng):
    a = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    assert abs(fid(a, a)) < 1e-6 * np.trace(np.cov(a, rowvar=False))


def test_fid_grows_monotonically_with_mean_shift(rng):
    a = rng.normal(size=(1000, 8))
    noise = rng.normal(size=(1000, 8))
    values = [fid(a, noise + shift) for shift in (0.0, 0.25, 0.5, 1.0, 2.0)]
    assert all(x < y for x, y in zip(values, values[1:])), values
    # The shift term is exactly 8 * shift^2 on top of the same covariance part.
    np.testing.assert_allclose(values[-1] - values[0], 8 * 4.0 + 2 * 8 * 2.0 * (noise.mean(0) - a.mean(0)).mean(),
                               rtol=1e-6)


def test_kid_wrapper_single_and_multi_block(rng):
    x = rng.normal(size=(600, 5))
    y = rng.normal(size=(600, 5)) + 0.5
    mean1, std1 = kid(x, y)  # one block
    assert mean1 > 0 and np.isnan(std1)
    mean3, std3 = kid(x, y, max_block_size=200)  # three blocks of 200
    assert std3 > 0 and abs(mean3 - mean1) / mean1 < 0.1
    same, _ = kid(x, x[::-1].copy())
    assert abs(same) < 0.05 * mean1


def test_kid_validates_block_sizes(rng):
    with pytest.raises(ValueError, match="needs >= "):
        kid(rng.normal(size=(2000, 3)), rng.normal(size=(3, 3)))  # 2 blocks, 1 fake each: TF-GAN would divide by 0
    with pytest.raises(ValueError, match="max_block_size"):
        kid(rng.normal(size=(10, 3)), rng.normal(size=(10, 3)), max_block_size=1)


def test_inception_score_splits_match_numpy(rng):
    logits = rng.normal(size=(1000, 10)) * 2.5

    def np_is(part):
        p = scipy.special.softmax(part, axis=1)
        return np.exp(np.mean(np.sum(p * (np.log(p) - np.log(p.mean(0))), axis=1)))

    want = [np_is(part) for part in np.array_split(logits, 10)]
    mean, std = inception_score(logits, splits=10)
    np.testing.assert_allclose([mean, std], [np.mean(want), np.std(want)], rtol=1e-4)
    one, zero = inception_score(logits, splits=1)
    np.testing.assert_allclose(one, np_is(logits), rtol=1e-4)
    assert zero == 0.0


def test_inception_score_limits():
    confident = np.eye(10)[np.arange(1000) % 10] * 50.0  # every class equally, each with certainty
    assert inception_score(confident, splits=10)[0] == pytest.approx(10.0, rel=1e-4)
    constant = np.tile(np.arange(10.0), (100, 1))  # same prediction everywhere
    assert inception_score(constant, splits=2)[0] == pytest.approx(1.0, abs=1e-6)


def test_input_validation(rng):
    with pytest.raises(ValueError, match="2D"):
        fid(rng.normal(size=(10,)), rng.normal(size=(10, 2)))
    with pytest.raises(ValueError, match="width"):
        fid(rng.normal(size=(10, 3)), rng.normal(size=(10, 2)))
    with pytest.raises(ValueError, match="NaN"):
        fid(np.full((10, 2), np.nan), rng.normal(size=(10, 2)))
    with pytest.raises(ValueError, match="splits"):
        inception_score(rng.normal(size=(5, 3)), splits=6)

