"""dat_tf.metrics.evaluate: train/test FID and KID and IS over seeds, on the offline digits setup."""

import numpy as np
import pytest

from dat_tf.metrics import evaluate, real_images
from dat_tf.nets import dcgan_generator

NAMES = ["fid_train", "kid_train", "fid_test", "kid_test", "is"]


def _real_sampler(seed):
    """A "perfect generator": draws from the real train split."""
    train = real_images("digits", "train")
    rng = np.random.default_rng(seed)
    return lambda n: train[rng.integers(0, len(train), n)]


def test_evaluate_untrained_generator_vs_real_data(tmp_path):
    gen = dcgan_generator(latent_dim=16, resolution=8, channels=1, width=8)
    path = str(tmp_path / "g.keras")
    gen.save(path)
    timings = {}
    rows = evaluate(path, num_samples=400, seeds=(0, 1), cache_dir=str(tmp_path / "cache"), timings=timings)
    assert [r["metric"] for r in rows] == NAMES
    by = {r["metric"]: r for r in rows}
    for r in rows:
        assert len(r["values"]) == 2 and r["std"] >= 0 and np.isfinite(r["mean"])
        assert r["mean"] == pytest.approx(np.mean(r["values"])) and r["std"] == pytest.approx(np.std(r["values"]))
    assert by["fid_train"]["num_real"] == 1438 and by["fid_test"]["num_real"] == 359
    assert not by["fid_train"]["real_from_cache"]
    assert set(timings) == {"real_features", "fake_features", "scores"}

    real = evaluate(None, sampler_fn=_real_sampler, num_samples=400, seeds=(0, 1), resolution=8,
                    cache_dir=str(tmp_path / "cache"))
    rby = {r["metric"]: r for r in real}
    assert rby["fid_train"]["real_from_cache"]  # same dataset, split, classifier, count: cached
    # Real digits score far better than an untrained generator on every metric.
    assert rby["fid_train"]["mean"] < 0.05 * by["fid_train"]["mean"]
    assert rby["fid_test"]["mean"] < 0.05 * by["fid_test"]["mean"]
    assert rby["kid_train"]["mean"] < 0.05 * by["kid_train"]["mean"]
    assert rby["is"]["mean"] > 7.0 > 2.0 > by["is"]["mean"]
    # Train FID of train-set samples is below their test FID (the test split is a different, smaller set).
    assert rby["fid_train"]["mean"] < rby["fid_test"]["mean"]
    assert rby["fid_train"]["std"] > 0  # two seeds, two different draws


def test_evaluate_validates_arguments(tmp_path):
    gen = dcgan_generator(latent_dim=4, resolution=8, channels=1, width=4)
    with pytest.raises(ValueError, match="seeds"):
        evaluate(gen, seeds=(), cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        evaluate(gen, num_samples=20, seeds=(0,), splits=("val",), cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="num_samples"):
        evaluate(gen, num_samples=1, cache_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError):
        evaluate(str(tmp_path / "missing.keras"), num_samples=20, cache_dir=str(tmp_path))
