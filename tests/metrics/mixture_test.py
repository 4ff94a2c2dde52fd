"""Mode-collapse metrics on hand-made samples with known answers."""

import math

import numpy as np
import pytest

from dat_tf import data
from dat_tf.metrics.mixture import mixture_metrics

MODES = data.mixture_modes()


@pytest.mark.parametrize("kind", ["balanced", "imbalanced"])
@pytest.mark.parametrize("mode", [0, 4, 8])
def test_all_samples_at_one_mode(kind, mode):
    samples = np.repeat(MODES[mode][None], 500, axis=0)
    m = mixture_metrics(samples, kind=kind)
    p = data.mixture_weights(kind)[mode]
    assert m["modes_covered"] == 1
    assert m["high_quality"] == 1.0
    # KL(q || p) with q a point mass: log(1 / p_mode) (the 1e-10 smoothing is negligible).
    assert m["kl"] == pytest.approx(math.log(1.0 / p), abs=1e-6)


@pytest.mark.parametrize("kind, n", [("balanced", 900), ("imbalanced", 600)])
def test_exact_true_proportions(kind, n):
    p = data.mixture_weights(kind)
    counts = np.round(p * n).astype(int)
    assert counts.sum() == n and np.allclose(counts / n, p)
    samples = np.repeat(MODES, counts, axis=0)
    m = mixture_metrics(samples, kind=kind)
    assert m == {"modes_covered": 9, "high_quality": 1.0, "kl": pytest.approx(0.0, abs=1e-8),
                 "mode_mass_error": pytest.approx(0.0, abs=1e-12)}


def test_true_samples_with_small_std():
    std = 0.1
    x = data.sample_mixture(20000, std=std, seed=0)
    m = mixture_metrics(x, std=std)
    assert m["modes_covered"] == 9
    assert 0 <= m["kl"] < 5e-3
    # P(||N(0, std^2 I_2)|| <= 3 std) = 1 - exp(-9/2) (Rayleigh); modes are 10 std apart.
    want = 1 - math.exp(-4.5)
    se = math.sqrt(want * (1 - want) / len(x))
    assert m["high_quality"] == pytest.approx(want, abs=4 * se)


def test_far_away_points():
    x = np.array([[10.0, 10.0], [-7.0, 3.0], [0.0, 5.0]])
    m = mixture_metrics(x)
    assert m["modes_covered"] == 0
    assert m["high_quality"] == 0.0
    assert math.isnan(m["kl"])


def test_two_modes_half_each():
    """q = (1/2, 1/2) on two modes of a balanced mixture: KL = log(9/2)."""
    x = np.concatenate([np.repeat(MODES[[0]], 50, 0), np.repeat(MODES[[5]], 50, 0)])
    m = mixture_metrics(x)
    assert m["modes_covered"] == 2
    assert m["kl"] == pytest.approx(math.log(4.5), abs=1e-6)


def test_high_quality_radius_is_three_std():
    std = 0.1
    inside = MODES[4] + np.array([0.29, 0.0])
    outside = MODES[4] + np.array([0.0, 0.31])
    m = mixture_metrics(np.stack([inside, inside, inside, outside]), std=std)
    assert m["high_quality"] == 0.75
    assert m["modes_covered"] == 1
    # Only high-quality samples count towards q: all mass on mode 4.
    assert m["kl"] == pytest.approx(math.log(9), abs=1e-6)


def test_min_fraction():
    # 995 samples at mode 0, 5 at mode 8 (0.5%).
    x = np.concatenate([np.repeat(MODES[[0]], 995, 0), np.repeat(MODES[[8]], 5, 0)])
    assert mixture_metrics(x)["modes_covered"] == 1  # 1% by default
    assert mixture_metrics(x, min_fraction=0.005)["modes_covered"] == 2
    assert mixture_metrics(x, min_fraction=0.001)["modes_covered"] == 2


@pytest.mark.parametrize("bad", [np.zeros((0, 2)), np.zeros((5, 3)), np.zeros(4), np.zeros((2, 2, 2))])
def test_bad_shapes(bad):
    with pytest.raises(ValueError, match=r"\[N, 2\]") as info:
        mixture_metrics(bad)
    assert str(bad.shape) in str(info.value)


def test_unknown_kind():
    with pytest.raises(ValueError, match="'tilted'"):
        mixture_metrics(np.zeros((3, 2)), kind="tilted")
