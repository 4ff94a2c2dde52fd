"""dat_tf.metrics.tfgan: TF-GAN's eval functions load on TF >= 2.16 and agree with numpy/scipy."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import tensorflow as tf

from dat_tf.metrics import tfgan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RTOL = 1e-4


# ---------------------------------------------------------------- independent references


def np_fid(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def np_mmd2_unbiased(x, y):
    d = x.shape[1]
    k = lambda u, v: (u @ v.T / d + 1.0) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m, n = len(x), len(y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


def np_kid_blocks(x, y, max_block_size):
    """TF-GAN's block estimator, re-implemented: ceil(n/B) blocks, the last (n mod k) one row longer."""
    n_blocks = int(np.ceil(max(len(x), len(y)) / max_block_size))

    def edges(n):
        v, extra = divmod(n, n_blocks)
        sizes = [v] * (n_blocks - extra) + [v + 1] * extra
        return np.concatenate([[0], np.cumsum(sizes)])

    ex, ey = edges(len(x)), edges(len(y))
    ests = np.array([np_mmd2_unbiased(x[ex[i] : ex[i + 1]], y[ey[i] : ey[i + 1]]) for i in range(n_blocks)])
    std = np.sqrt(ests.var(ddof=1) / n_blocks) if n_blocks > 1 else float("nan")
    return float(ests.mean()), float(std)


def np_inception_score(logits):
    p = scipy.special.softmax(logits, axis=1)
    q = p.mean(0)
    kl = np.sum(p * (np.log(p) - np.log(q)), axis=1)
    return float(np.exp(kl.mean()))


@pytest.fixture
def acts(rng):
    d = 12
    a = rng.normal(size=(400, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    b = rng.normal(size=(300, d)) @ rng.normal(size=(d, d)) / np.sqrt(d) + 0.4
    return a, b


# ---------------------------------------------------------------- loading


def test_loader_exposes_functions_and_uses_stubs_on_new_tf():
    for name in (
        "frechet_classifier_distance_from_activations",
        "kernel_classifier_distance_and_std_from_activations",
        "classifier_score_from_logits",
    ):
        assert callable(getattr(tfgan, name)), name
    assert not any(name.endswith("_streaming") for name in dir(tfgan))  # TF1 graph-mode forms: not re-exported
    if tuple(int(p) for p in tf.__version__.split(".")[:2]) >= (2, 16):
        assert tfgan.LOADED_VIA.startswith("stubs")
        root = sys.modules["tensorflow_gan"]
        assert root.__path__ and os.path.isfile(os.path.join(root.__path__[0], "python", "eval", "classifier_metrics.py"))
        assert not hasattr(root, "estimator")  # the broken root __init__ never ran
    assert callable(tfgan.eval.frechet_classifier_distance_from_activations)


def test_loader_last_resort_without_tensorflow_hub():
    """If ``tensorflow_gan.python.eval``'s __init__ fails too, classifier_metrics alone still loads."""
    code = textwrap.dedent(
        """
        import sys, numpy as np
        sys.modules["tensorflow_hub"] = None  # makes `import tensorflow_hub` fail
        from dat_tf.metrics import tfgan
        a = np.random.default_rng(0).normal(size=(50, 3)); b = a + 1.0
        print(tfgan.LOADED_VIA, float(tfgan.frechet_classifier_distance_from_activations(a, b)))
        """
    )
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    how, value = out.stdout.split()[-2:]
    if tfgan.LOADED_VIA != "package":
        assert how == "stubs+classifier_metrics"
    assert abs(float(value) - 3.0) < 1e-6  # a mean shift of 1 in 3 dims, same covariance


# ---------------------------------------------------------------- against numpy / scipy


def test_fid_matches_scipy(acts):
    a, b = acts
    got = float(tfgan.frechet_classifier_distance_from_activations(tf.constant(a), tf.constant(b)))
    want = np_fid(a, b)
    assert want > 0.5
    np.testing.assert_allclose(got, want, rtol=RTOL)


def test_kid_single_block_matches_numpy(acts):
    a, b = acts
    mean, std = tfgan.kernel_classifier_distance_and_std_from_activations(tf.constant(a), tf.constant(b), 1024)
    np.testing.assert_allclose(float(mean), np_mmd2_unbiased(a, b), rtol=RTOL)
    assert np.isnan(float(std))  # one block: no spread estimate


def test_kid_multi_block_matches_numpy_blocks_and_is_near_full_sample(rng):
    d = 8
    x = rng.normal(size=(2000, d))
    y = rng.normal(size=(1500, d)) * 1.2 + 0.3
    bs = 512  # 2000 > bs: 4 blocks of sizes 500 / 375, none empty
    mean, std = tfgan.kernel_classifier_distance_and_std_from_activations(tf.constant(x), tf.constant(y), bs)
    want_mean, want_std = np_kid_blocks(x, y, bs)
    np.testing.assert_allclose(float(mean), want_mean, rtol=RTOL)
    np.testing.assert_allclose(float(std), want_std, rtol=RTOL)
    full = np_mmd2_unbiased(x, y)
    assert abs(float(mean) - full) / full < 0.05, (float(mean), full)


def test_kid_default_block_size_with_uneven_sets(rng):
    x = rng.normal(size=(1100, 6))
    y = rng.normal(size=(300, 6)) + 0.5  # 2 blocks: x 550/550, y 150/150
    mean, std = tfgan.kernel_classifier_distance_and_std_from_activations(tf.constant(x), tf.constant(y))
    want_mean, want_std = np_kid_blocks(x, y, 1024)
    np.testing.assert_allclose([float(mean), float(std)], [want_mean, want_std], rtol=RTOL)


def test_classifier_score_matches_numpy(rng):
    logits = rng.normal(size=(500, 10)) * 3.0
    got = float(tfgan.classifier_score_from_logits(tf.constant(logits)))
    want = np_inception_score(logits)
    assert 1.5 < want < 10.0
    np.testing.assert_allclose(got, want, rtol=RTOL)

