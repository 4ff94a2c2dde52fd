"""Every flagfile in configs/ parses, validates, and builds its model and data pipeline; dat_tf/flagfiles.py finds
them by bare name (``--flagfile=toy_balanced_dat``), after a file of that name in the working folder."""

import glob
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds
from absl import flags

from dat_tf import flagfiles

from dat_tf.data.registry import DATASETS
from dat_tf.train.config import TrainConfig

TFDS_DATASETS = [n for n, d in DATASETS.items() if d.source == "tfds"]
from dat_tf.train.loop import build_dataset, build_nets, data_shape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(glob.glob(os.path.join(ROOT, "configs", "*.flags")))
NAMES = [os.path.basename(p)[: -len(".flags")] for p in FLAGFILES]


def _load(name, **kw):
    return TrainConfig.from_flagfile(os.path.join(ROOT, "configs", f"{name}.flags"), **kw).validate()


MODELS12 = ["sngan", "ssgan", "infomaxgan"]
DATASETS12 = ["cifar10", "cifar100", "stl10", "tinyimagenet", "lsun_bedroom"]
LOSSES3 = ("gan", "lsgan", "wgan")
REGS3 = ("none", "gp", "lp", "zero_gp", "ar", "rfm", "asgan", "dat", "datt", "dat_reference", "datt_reference")


def test_expected_flagfiles_exist():
    table12 = {f"{m}_{d}{s}" for m in MODELS12 for d in DATASETS12 for s in ("", "_dat", "_dat_paper")}
    table3 = {f"table3_{l}_{r}" for l in LOSSES3 for r in REGS3}
    assert "sngan_cifar10" in NAMES
    assert table12 <= set(NAMES) and len(table12) == 45
    assert table3 <= set(NAMES) and len(table3) == 33
    assert not {n for n in NAMES if n.startswith("table3")} - table3
    assert sum(n.startswith(("dcgan_", "wgan_")) for n in NAMES) >= 8


def _is_dat_name(name):
    return name.endswith(("_dat", "_datt", "_dat_paper", "_dat_reference", "_datt_reference"))


@pytest.mark.parametrize("name", NAMES)
def test_flagfile_validates_and_names_its_run_dir(name):
    cfg = _load(name)
    assert cfg.run_dir == f"runs/{name}"
    if name != "digits":  # the README's example trains with DAT under the plain name (runs/digits)
        assert (cfg.regularizer in ("dat", "datt")) == _is_dat_name(name)


def test_generated_flagfiles_match_the_generator(tmp_path):
    """configs/make_flagfiles.py is the source of every non-toy flagfile: rerunning it changes nothing."""
    out = tmp_path / "configs"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "configs", "make_flagfiles.py"), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    made = sorted(os.listdir(out))
    assert "digits.flags" in made
    assert set(made) == {os.path.basename(p) for p in FLAGFILES if not os.path.basename(p).startswith("toy_")}
    for name in made:
        with open(os.path.join(ROOT, "configs", name)) as f:
            assert (out / name).read_text() == f.read(), f"configs/{name} differs from make_flagfiles.py's output"


def test_digits_example_is_offline_dat():
    """The README's eval example: bundled data (no download), DAT, a short run that exports a generator."""
    cfg = _load("digits")
    assert (cfg.dataset, cfg.net, cfg.regularizer, cfg.image_resolution()) == ("digits", "dcgan", "dat", 16)
    assert DATASETS[cfg.dataset].source == "bundled"
    assert cfg.n_iter <= 2000 and cfg.n_iter % cfg.checkpoint_every == 0


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith(("sngan_", "ssgan_", "infomaxgan_"))])
def test_table1_settings(name):
    cfg = _load(name)
    assert (cfg.batch_size, cfg.lr_d, cfg.lr_g, cfg.beta1, cfg.beta2, cfg.n_dis, cfg.n_iter) == (
        64, 2e-4, 2e-4, 0.0, 0.9, 5, 100_000)
    assert cfg.lr_decay == ("none" if "tinyimagenet" in name else "linear")
    assert cfg.image_resolution() == {"cifar10": 32, "cifar100": 32, "stl10": 48}.get(cfg.dataset, 64)


@pytest.mark.parametrize("model", MODELS12)
def test_table12_dat_runs_the_authors_code_and_dat_paper_the_equations(model):
    """*_dat: the reference variant, clipping as the authors' copy of that model; *_dat_paper: Eq. 9-10, no clip."""
    clip = {"sngan": "fake", "ssgan": "both", "infomaxgan": "both"}[model]
    for dataset in DATASETS12:
        ref, paper = _load(f"{model}_{dataset}_dat"), _load(f"{model}_{dataset}_dat_paper")
        base = _load(f"{model}_{dataset}")
        assert (ref.regularizer, ref.reg_args["variant"], ref.reg_args["clip"]) == ("dat", "reference", clip)
        assert (paper.regularizer, paper.reg_args["variant"]) == ("dat", "paper")
        assert paper.build_regularizer().clip == "none"
        assert ref.build_regularizer().epsilon == paper.build_regularizer().epsilon == 1.0
        # the arms differ in the regularizer only
        for cfg in (ref, paper):
            assert (cfg.net, cfg.loss, cfg.n_dis, cfg.lr_decay, cfg.image_resolution()) == (
                base.net, base.loss, base.n_dis, base.lr_decay, base.image_resolution())


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("table3")])
def test_table3_settings(name):
    cfg = _load(name)
    arm, loss, column = name.split("_", 2)
    assert (cfg.latent_dim, cfg.batch_size, cfg.lr_d, cfg.lr_g, cfg.beta1, cfg.beta2, cfg.n_dis) == (
        128, 64, 1e-4, 1e-4, 0.5, 0.999, 1)
    assert cfg.loss == {"gan": "ns", "lsgan": "lsgan", "wgan": "wgan"}[loss]
    # the AR/RFM code base's D; the pilot's reading: its sigmoid for LSGAN, D's logit for WGAN (and BCE = ns on the logit)
    assert cfg.net == "dcgan_rfm"
    assert cfg.d_sigmoid == (loss == "lsgan")
    reg = cfg.build_regularizer()
    if column.startswith(("dat", "datt")):
        assert reg.variant == ("reference" if column.endswith("_reference") else "paper")
        assert reg.clip == ("fake" if column.endswith("_reference") else "none")
        assert reg.with_clean == column.startswith("datt")
    elif column in ("ar", "rfm"):
        assert (reg.weight, reg.epsilon, reg.reduction) == (10.0, 1e-4, "batch")
    elif column.startswith("gp") or column in ("lp", "zero_gp"):
        assert reg.weight == 10.0


def _signature(cfg):
    return (cfg.net, cfg.image_resolution(), cfg.d_batch_norm, cfg.d_spectral_norm, cfg.latent_dim, cfg.width)


_BUILT = {}


@pytest.mark.parametrize("name", NAMES)
def test_flagfile_builds_model(name):
    cfg = _load(name)
    sig = _signature(cfg)
    if sig not in _BUILT:  # many flagfiles share a net: build each distinct one once, at full size
        g, d = build_nets(cfg)
        z = np.zeros((2, cfg.latent_dim), np.float32)
        x = g(z, training=False)
        assert tuple(x.shape[1:]) == data_shape(cfg)
        assert tuple(d(x, training=False).shape) in ((2, 1), (2,))
        _BUILT[sig] = g.count_params() + d.count_params()
    assert _BUILT[sig] > 0


@pytest.mark.parametrize("dataset", TFDS_DATASETS)
def test_data_pipeline_on_mock_data(dataset):
    name = next(n for n in NAMES if n.startswith("sngan_") and n[len("sngan_"):] == dataset)
    cfg = _load(name, batch_size=4, n_dis=2)
    with tfds.testing.mock_data(num_examples=16):
        batch = next(iter(build_dataset(cfg)))
    res = cfg.image_resolution()
    assert tuple(batch.shape) == (8, res, res, 3)
    assert batch.dtype.name == "float32"
    assert -1.0 <= float(np.min(batch)) and float(np.max(batch)) <= 1.0


def test_tinyimagenet_pipeline_on_a_folder(tmp_path):
    from PIL import Image  # noqa: F401  (pillow comes with matplotlib)

    rng = np.random.default_rng(0)
    for wnid in ("n01443537", "n01629819"):
        folder = tmp_path / "tiny-imagenet-200" / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{wnid}_{i}.JPEG")
    (tmp_path / "tiny-imagenet-200" / "val" / "images").mkdir(parents=True)  # the archive's layout
    cfg = _load("sngan_tinyimagenet", batch_size=2, n_dis=2, data_dir=str(tmp_path / "tiny-imagenet-200"))
    batch = next(iter(build_dataset(cfg)))
    assert tuple(batch.shape) == (4, 64, 64, 3)


# ----------------------------------------------------------------------------- found by bare name


def test_the_packaged_flagfiles_are_the_checkouts_configs():
    assert flagfiles.folder() == os.path.join(ROOT, "configs")  # a checkout (packaging_test: an installed wheel)
    assert flagfiles.names() == NAMES


@pytest.mark.parametrize("value", ["toy_balanced_dat", "toy_balanced_dat.flags"])
def test_a_bare_name_finds_the_packaged_flagfile(tmp_path, monkeypatch, value):
    monkeypatch.chdir(tmp_path)  # nothing of that name here
    assert flagfiles.resolve(value) == os.path.join(ROOT, "configs", "toy_balanced_dat.flags")


def test_a_file_in_the_working_folder_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy_balanced_dat.flags").write_text("--n_iter=3\n")
    assert flagfiles.resolve("toy_balanced_dat.flags") == "toy_balanced_dat.flags"
    assert flagfiles.resolve("toy_balanced_dat") == os.path.join(ROOT, "configs", "toy_balanced_dat.flags")
    (tmp_path / "toy_balanced_dat").write_text("--n_iter=3\n")
    assert flagfiles.resolve("toy_balanced_dat") == "toy_balanced_dat"
    absolute = str(tmp_path / "toy_balanced_dat.flags")
    assert flagfiles.resolve(absolute) == absolute


def test_an_unknown_name_names_itself_where_it_looked_and_the_close_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(flagfiles.FlagfileNotFound) as info:
        flagfiles.resolve("toy_balnced_dat")
    text = str(info.value)
    assert isinstance(info.value, flags.Error)  # reported as a bad flag by each command's parser
    assert text.startswith(f"--flagfile=toy_balnced_dat: no file toy_balnced_dat in {tmp_path}, nor a flagfile "
                           f"of that name installed with dat_tf (in {os.path.join(ROOT, 'configs')})")
    assert text.endswith("close matches among the installed flagfiles (pass the bare name): toy_balanced_dat, "
                         "toy_imbalanced_dat, toy_balanced, toy_imbalanced.")
    with pytest.raises(flagfiles.FlagfileNotFound, match=r"--flagfile=zzz: .* the \d+ installed flagfiles are in "):
        flagfiles.resolve("zzz")


def test_a_missing_path_is_not_looked_up_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(flagfiles.FlagfileNotFound) as info:
        flagfiles.resolve(os.path.join("configs", "toy_balanced_dat.flags"))
    text = str(info.value)
    assert f"no such file: {tmp_path / 'configs' / 'toy_balanced_dat.flags'};" in text
    assert "(pass the bare name): toy_balanced_dat," in text


def test_resolve_args_rewrites_every_flagfile_form_before_the_double_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    packaged = os.path.join(ROOT, "configs")
    args = ["--flagfile=toy_balanced", "-flagfile", "toy_balanced_dat.flags", "--n_iter=3", "--flagfile",
            "digits", "--", "--flagfile=nope"]
    assert flagfiles.resolve_args(args) == [
        f"--flagfile={packaged}/toy_balanced.flags", "-flagfile", f"{packaged}/toy_balanced_dat.flags", "--n_iter=3",
        "--flagfile", f"{packaged}/digits.flags", "--", "--flagfile=nope"]
    assert flagfiles.resolve_args(["--n_iter=3", "--flagfile"]) == ["--n_iter=3", "--flagfile"]  # absl reports it


def test_the_flagfile_generator_is_a_script_that_cannot_be_imported(tmp_path):
    # it ships inside dat_tf.configs: an import (e.g. a tool walking the package) must not rewrite flagfiles
    def stamps():
        return {f: os.stat(f).st_mtime_ns for f in glob.glob(os.path.join(ROOT, "configs", "*.flags"))}

    before = stamps()
    spec = importlib.util.spec_from_file_location("make_flagfiles", os.path.join(ROOT, "configs", "make_flagfiles.py"))
    with pytest.raises(ImportError, match="is a script"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert stamps() == before
