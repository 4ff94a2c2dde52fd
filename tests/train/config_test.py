"""TrainConfig: validation messages name the flag, the value and what is allowed."""

import math

import pytest

import dataclasses

from dat_tf.train.config import TrainConfig, flag_kinds, regularizer_flags


def test_defaults_validate_and_every_field_has_help():
    assert TrainConfig().validate().regularizer == "none"
    assert all(f.metadata["help"] for f in dataclasses.fields(TrainConfig))


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("loss", "wasserstein", "hinge"),
        ("regularizer", "dta", "datt"),
        ("dataset", "cifar", "digits"),
        ("net", "resnet", "mlp"),
        ("n_dis", 0, ">= 1 and <= 511"),
        ("batch_size", 0, ">= 1"),
        ("n_iter", -5, ">= 1"),
        ("lr_d", 0.0, "> 0"),
        ("beta1", 1.5, "<= 1"),
        ("mixture_std", 0.0, "> 0"),
        ("seed", -1, ">= 0"),
        ("verbose", 3, ">= 0 and <= 2"),
        ("steps_per_execution", 0, ">= 1"),
        ("strategy", "horovod", "multi_worker"),
        ("precision", "float16", "mixed_float16"),
        ("on_nan", "ignore", "restore"),
        ("nan_lr_factor", 0.0, "> 0.0"),
        ("nan_lr_factor", 2.0, "<= 1.0"),
        ("num_devices", -1, ">= 1"),
        ("lr_decay", "cosine", "linear"),
        ("d_weight_clip", -0.01, ">= 0"),
        ("checkpoint_every", -1, ">= 0"),
        ("keep_checkpoints", 0, ">= 1"),
        ("metrics_every", -1, ">= 0"),
        ("metrics_classifier", "resnet", "inception"),
        ("width", -8, ">= 1"),
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
        (dict(dataset="cifar10", net="sngan", resolution=40), "takes 32x32, 48x48 or 64x64 images"),
        (dict(dataset="folder:/x", net="dcgan"), "--resolution=None is not allowed with --dataset='folder:/x'"),
        (dict(dataset="digits", mock_data=True), "--mock_data is only for the tfds datasets"),
        (dict(dataset="mixture_balanced", metrics_every=10), "FID needs images"),
        (dict(dataset="folder:"), "--dataset='folder:'"),
        (dict(batch_size=7, strategy="mirrored", num_devices=2), "--batch_size=7 is not allowed with --strategy=mirrored"),
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


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("dat_variant", "authors", "reference"),
        ("dat_clip", "real", "fake"),
        ("dat_epsilon", -1.0, "> 0"),
        ("dat_epsilon", 0.0, "> 0"),
        ("dat_epsilon", math.nan, "finite"),
    ],
)
def test_bad_regularizer_flag_is_named(field, value, allowed):
    cfg = TrainConfig.from_flags({"regularizer": "dat", field: value})
    with pytest.raises(ValueError) as err:
        cfg.validate()
    assert f"--{field}={value!r}" in str(err.value) and allowed in str(err.value)


def test_regularizer_arguments_come_from_the_regularizers_own_fields():
    assert TrainConfig(regularizer="gp").build_regularizer().weight == 10.0
    assert TrainConfig.from_flags({"regularizer": "gp", "gp_weight": 5.0}).reg_args == {"weight": 5.0}
    cfg = TrainConfig.from_flags({"regularizer": "dat", "dat_epsilon": 0.5, "dat_variant": "reference",
                                  "dat_clip": "both", "gp_weight": None})
    assert cfg.reg_args == {"epsilon": 0.5, "variant": "reference", "clip": "both"}
    reg = cfg.validate().build_regularizer()
    assert (reg.name, reg.epsilon, reg.variant, reg.clip) == ("dat", 0.5, "reference", "both")
    # Every flag is a field of a registered regularizer class, with that field's type.
    flags = {k for k, (cls, _) in regularizer_flags().items() if cls.__module__.startswith("dat_tf.")}
    assert {"dat_epsilon", "dat_variant", "dat_clip", "gp_weight", "gp_where", "robust_weight", "robust_epsilon",
            "robust_reduction",
            "asgan_epsilon"} == flags
    assert flag_kinds()["dat_epsilon"] is float and flag_kinds()["dat_variant"] is str


def test_a_flag_of_another_regularizer_or_a_fixed_argument_is_refused():
    with pytest.raises(ValueError, match=r"--gp_weight=3.0 is not allowed with --regularizer=dat; it is for gp"):
        TrainConfig.from_flags({"regularizer": "dat", "gp_weight": 3.0})
    with pytest.raises(ValueError, match=r"--gp_where='interpolates' is not allowed with --regularizer=r1"):
        TrainConfig.from_flags({"regularizer": "r1", "gp_where": "interpolates"}).validate()


def test_older_config_json_is_read():
    old = {"regularizer": "dat", "dat_epsilon": 0.5, "dat_variant": "paper", "dat_clip": "default",
           "reg_weight": -1.0, "reg_epsilon": -1.0, "resolution": 0, "width": 0, "num_devices": 0, "data_dir": ""}
    cfg = TrainConfig.from_dict(old).validate()
    assert cfg.reg_args == {"epsilon": 0.5, "variant": "paper", "clip": None, "clip_range": (-1.0, 1.0)}  # + defaults
    assert (cfg.resolution, cfg.width, cfg.num_devices, cfg.data_dir) == (None, None, None, None)
    gp = TrainConfig.from_dict({"regularizer": "gp", "reg_weight": 2.0, "dat_epsilon": 1.0}).validate()
    assert gp.reg_args == {"weight": 2.0, "where": "interpolates"}


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


def test_a_module_class_regularizer_from_a_config_and_a_flagfile(tmp_path, monkeypatch):
    """``module:Class`` is imported when the config is read; its fields are flags like a registered one's."""
    (tmp_path / "config_test_regs.py").write_text(
        "from dat_tf.hparams import param\n"
        "from dat_tf.regularizers import Regularizer\n"
        "class Scaled(Regularizer):\n"
        "    scale: float = param(1.0, 'A scale.', low=0.0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = TrainConfig(regularizer="config_test_regs:Scaled", reg_args={"scale": 2.0}).validate()
    assert cfg.build_regularizer().scale == 2.0 and cfg.build_regularizer().name == "config_test_regs:Scaled"
    assert cfg.resolved().reg_args == {"scale": 2.0}
    path = tmp_path / "x.flags"
    path.write_text("--regularizer=config_test_regs:Scaled\n--scaled_scale=0.5\n")
    assert TrainConfig.from_flagfile(str(path)).validate().reg_args == {"scale": 0.5}
    with pytest.raises(ValueError, match=r"--scaled_scale=-1.0 is not allowed; expected a finite number >= 0.0"):
        TrainConfig.from_flags({"regularizer": "config_test_regs:Scaled", "scaled_scale": -1.0}).validate()
    with pytest.raises(ValueError, match=r"--regularizer='config_test_regs:Scale' is not allowed: module "
                                         r"'config_test_regs' has no 'Scale' \(did you mean 'Scaled'\?\)"):
        TrainConfig(regularizer="config_test_regs:Scale").validate()


@pytest.mark.parametrize("name", ["toy_balanced", "toy_balanced_dat", "toy_imbalanced", "toy_imbalanced_dat"])
def test_toy_flagfiles_match_figure3(name):
    cfg = TrainConfig.from_flagfile(f"configs/{name}.flags").validate()
    assert cfg.dataset == ("mixture_imbalanced" if "imbalanced" in name else "mixture_balanced")
    assert cfg.regularizer == ("dat" if name.endswith("_dat") else "none")
    assert cfg.net == "mlp" and cfg.width == 64 and cfg.n_iter == 10_000
    assert cfg.mixture_std == pytest.approx(math.sqrt(0.1))
    if cfg.regularizer == "dat":
        assert cfg.reg_args == {"epsilon": 1.0, "variant": "paper"}
