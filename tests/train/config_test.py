"""TrainConfig: validation messages name the flag, the value and what is allowed."""

import math

import pytest

from dat_tf.train.config import HELP, TrainConfig


def test_defaults_validate_and_every_field_has_help():
    assert TrainConfig().validate().regularizer == "none"
    assert set(HELP) == set(TrainConfig.field_names())


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("loss", "wasserstein", "hinge"),
        ("regularizer", "dta", "datt"),
        ("dataset", "cifar", "digits"),
        ("net", "resnet", "mlp"),
        ("dat_variant", "authors", "reference"),
        ("dat_clip", "real", "fake"),
        ("dat_epsilon", -1.0, ">= 0"),
        ("dat_epsilon", math.nan, "finite"),
        ("n_dis", 0, "[1, 511]"),
        ("batch_size", 0, ">= 1"),
        ("n_iter", -5, ">= 1"),
        ("lr_d", 0.0, "> 0"),
        ("beta1", 1.5, "<= 1"),
        ("mixture_std", 0.0, "> 0"),
        ("seed", -1, ">= 0"),
        ("verbose", 3, "[0, 2]"),
        ("steps_per_execution", 0, ">= 1"),
        ("strategy", "horovod", "multi_worker"),
        ("precision", "float16", "mixed_float16"),
        ("on_nan", "ignore", "restore"),
        ("nan_lr_factor", 0.0, "> 0.0"),
        ("nan_lr_factor", 2.0, "<= 1.0"),
        ("num_devices", -1, ">= 0"),
        ("lr_decay", "cosine", "linear"),
        ("d_weight_clip", -0.01, ">= 0"),
        ("checkpoint_every", -1, ">= 0"),
        ("keep_checkpoints", 0, ">= 1"),
        ("metrics_every", -1, ">= 0"),
        ("metrics_classifier", "resnet", "inception"),
        ("width", -8, ">= 0"),
        ("log_every", 0, ">= 1"),
        ("sample_kind", "video", "scatter"),
    ],
)
def test_bad_value_is_named(field, value, allowed):
    cfg = TrainConfig(**{field: value})
    with pytest.raises(ValueError) as err:
        cfg.validate()
    msg = str(err.value)
    assert f"--{field}={value!r}" in msg
    assert allowed in msg


def test_all_problems_reported_at_once():
    with pytest.raises(ValueError) as err:
        TrainConfig(loss="x", n_dis=0).validate()
    assert "--loss='x'" in str(err.value) and "--n_dis=0" in str(err.value)


@pytest.mark.parametrize(
    "kw, expect",
    [
        (dict(dataset="mixture_balanced", net="dcgan"), "--net='dcgan' is not allowed with --dataset='mixture_balanced'"),
        (dict(dataset="cifar10", net="sngan", resolution=40), "expected 32, 48 or 64"),
        (dict(dataset="folder:/x", net="dcgan"), "--resolution=0 is not allowed with --dataset='folder:/x'"),
        (dict(dataset="digits", mock_data=True), "--mock_data is only for the tfds datasets"),
        (dict(dataset="mixture_balanced", metrics_every=10), "FID needs images"),
        (dict(dataset="folder:"), "--dataset='folder:'"),
    ],
)
def test_bad_combinations_are_named(kw, expect):
    with pytest.raises(ValueError) as err:
        TrainConfig(**kw).validate()
    assert expect in str(err.value)


def test_dcgan_needs_power_of_two_resolution():
    with pytest.raises(ValueError, match="--resolution=12"):
        TrainConfig(dataset="digits", net="dcgan", resolution=12).validate()
    TrainConfig(dataset="digits", net="dcgan", resolution=16).validate()


def test_regularizer_kwargs():
    assert TrainConfig(regularizer="gp").regularizer_kwargs() == {}
    assert TrainConfig(regularizer="gp", reg_weight=5.0).regularizer_kwargs() == {"weight": 5.0}
    kw = TrainConfig(regularizer="dat", dat_epsilon=0.5, dat_variant="reference", dat_clip="both").regularizer_kwargs()
    assert kw == {"epsilon": 0.5, "variant": "reference", "clip": "both"}


def test_from_flagfile(tmp_path):
    path = tmp_path / "x.flags"
    path.write_text("# comment\n--loss=wgan\n--n_dis=5\n--d_spectral_norm=true\n--lr_d=1e-4\n")
    cfg = TrainConfig.from_flagfile(str(path), seed=3)
    assert (cfg.loss, cfg.n_dis, cfg.d_spectral_norm, cfg.lr_d, cfg.seed) == ("wgan", 5, True, 1e-4, 3)
    path.write_text("--n_dis=five\n")
    with pytest.raises(ValueError, match="--n_dis='five'"):
        TrainConfig.from_flagfile(str(path))
    path.write_text("--nope=1\n")
    with pytest.raises(ValueError, match="unknown flag --nope"):
        TrainConfig.from_flagfile(str(path))


@pytest.mark.parametrize("name", ["toy_balanced", "toy_balanced_dat", "toy_imbalanced", "toy_imbalanced_dat"])
def test_toy_flagfiles_match_figure3(name):
    cfg = TrainConfig.from_flagfile(f"configs/{name}.flags").validate()
    assert cfg.dataset == ("mixture_imbalanced" if "imbalanced" in name else "mixture_balanced")
    assert cfg.regularizer == ("dat" if name.endswith("_dat") else "none")
    assert cfg.net == "mlp" and cfg.width == 64 and cfg.n_iter == 10_000
    assert cfg.mixture_std == pytest.approx(math.sqrt(0.1))
    if cfg.regularizer == "dat":
        assert cfg.dat_epsilon == 1.0 and cfg.dat_variant == "paper"
