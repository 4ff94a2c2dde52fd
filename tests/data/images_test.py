"""Tests for dat_tf.data.images: tfds datasets (mocked and prepared offline), image folders, Tiny ImageNet."""

import dataclasses
import os
import time
import urllib.parse
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from dat_tf.data import images as image_data
from dat_tf.data.errors import BadImagesError, DatasetUnavailableError
from dat_tf.data.images import DatasetNotFoundError, dataset_info, image_dataset
from dat_tf.data.registry import get_dataset

TFDS_NAMES = ("cifar10", "cifar100", "stl10", "lsun_bedroom")

# role -> the tfds split it must read (the paper's A.2)
EXPECTED_SPLITS = {
    "cifar10": ("train", "test"),
    "cifar100": ("train", "test"),
    "stl10": ("unlabelled", "test"),
    "lsun_bedroom": ("train[10000:]", "train[:10000]"),
}


def _files_under(root):
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(root) for f in fs)


def _write_image(path, array, fmt=None):
    """Writes ``array`` (uint8 [h, w, c]) as PNG or JPEG with TensorFlow's encoders."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fmt = fmt or os.path.splitext(path)[1].lower().lstrip(".")
    array = tf.constant(np.asarray(array, np.uint8))
    data = tf.io.encode_png(array) if fmt == "png" else tf.io.encode_jpeg(array, quality=100)
    tf.io.write_file(path, data)


def _one_pass(name, split, **kw):
    kw.setdefault("shuffle", False)
    kw.setdefault("repeat", False)
    return np.concatenate([b.numpy() for b in image_dataset(name, split, 1, **kw)])


# ----------------------------------------------------------------------------- info


def test_dataset_info_resolutions_and_splits():
    got = {n: (dataset_info(n).resolution, dataset_info(n).tfds_name) for n in TFDS_NAMES + ("tinyimagenet",)}
    assert got == {
        "cifar10": (32, "cifar10"),
        "cifar100": (32, "cifar100"),
        "stl10": (48, "stl10"),
        "lsun_bedroom": (64, "lsun/bedroom"),
        "tinyimagenet": (64, None),
    }
    for n, (train, test) in EXPECTED_SPLITS.items():
        info = dataset_info(n)
        assert (info.split_for("train"), info.split_for("test")) == (train, test)
        assert info.split_for("train[:5]") == "train[:5]"  # anything else passes through
    tiny = dataset_info("tinyimagenet")
    assert (tiny.split_for("train"), tiny.split_for("test"), tiny.split_for("val")) == ("train", "val", "val")
    # One description: the pipeline reads the registry's entry itself, so the two cannot disagree.
    for n in TFDS_NAMES + ("tinyimagenet",):
        assert dataset_info(n) is get_dataset(n)
    assert tiny.source == "tinyimagenet" and tiny.download_url.endswith("tiny-imagenet-200.zip")
    assert dataset_info("lsun_bedroom", resolution=128).resolution == 128
    assert dataset_info("folder:/x", resolution=24).resolution == 24


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: dataset_info("mnist"), r"Unknown dataset 'mnist'"),
        (lambda: dataset_info("digits"), r"'digits' is not read by image_dataset .*'cifar10'"),
        (lambda: dataset_info("folder:/x"), "resolution"),
        (lambda: dataset_info("cifar10", resolution=0), "resolution"),
        (lambda: image_dataset("cifar10", "train", 0), "batch_size"),
        (lambda: image_dataset("cifar10", "train", 4, n_dis=0), "n_dis"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- tfds, mocked


@pytest.mark.parametrize("name", TFDS_NAMES)
def test_tfds_mock_batches(name):
    res = dataset_info(name).resolution
    with tfds.testing.mock_data(num_examples=12):
        ds = image_dataset(name, "train", batch_size=3, n_dis=2, seed=1)
        assert ds.element_spec.shape.as_list() == [6, res, res, 3]
        batches = [b.numpy() for b in ds.take(5)]  # 30 > 12 examples: repeats
    for x in batches:
        assert x.shape == (6, res, res, 3) and x.dtype == np.float32
        assert x.min() >= -1.0 and x.max() <= 1.0
        assert x.std() > 0.1  # random mock images, not a constant
        # every value is a uint8 level mapped to [-1, 1]
        np.testing.assert_allclose((x + 1.0) * 127.5, np.round((x + 1.0) * 127.5), atol=1e-4)


def _split_recording_mock(shape_fn):
    """A mocked tfds ``_as_dataset`` that records the split and marks it in the pixels (train 255, test 0)."""
    seen = []

    def as_dataset(self, split, decoders=None, read_config=None, shuffle_files=False, **kw):
        seen.append(str(split))
        value = 0 if ("test" in str(split) or str(split).startswith("train[:")) else 255
        h, w = shape_fn(self.name)
        ex = {k: tf.constant(0, tf.int64) for k in ("label", "coarse_label")}
        ex.update(image=tf.fill([h, w, 3], tf.constant(value, tf.uint8)), id=tf.constant("x"))
        ex = {k: v for k, v in ex.items() if k in self.info.features}
        return tf.data.Dataset.from_tensors(ex).repeat(4)

    return seen, as_dataset


@pytest.mark.parametrize("name", TFDS_NAMES)
def test_tfds_train_and_test_roles_read_the_papers_splits(name):
    shapes = {"cifar10": (32, 32), "cifar100": (32, 32), "stl10": (96, 96), "lsun": (90, 120)}
    seen, fn = _split_recording_mock(lambda n: shapes[n])
    res = dataset_info(name).resolution
    with tfds.testing.mock_data(as_dataset_fn=fn):
        train = next(iter(image_dataset(name, "train", 2))).numpy()
        test = next(iter(image_dataset(name, "test", 2, shuffle=False, repeat=False))).numpy()
    assert seen == list(EXPECTED_SPLITS[name])
    assert train.shape == test.shape == (2, res, res, 3)
    # constant 255 -> exactly 1.0 and 0 -> exactly -1.0, through crop + resize (96->48, 90x120->64)
    np.testing.assert_array_equal(train, np.ones_like(train))
    np.testing.assert_array_equal(test, -np.ones_like(test))


def test_lsun_center_crop_then_resize():
    """Margins outside the centred square are cut before resizing (mimicry CenterCrop + Resize)."""

    def as_dataset(self, split, **kw):
        img = np.zeros((100, 160, 3), np.uint8)  # 30-pixel black margins left and right
        img[:, 30:130] = 200
        return tf.data.Dataset.from_tensors({"image": img, "id": "x"}).repeat(2)

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        x = next(iter(image_dataset("lsun_bedroom", "train", 2))).numpy()
    assert x.shape == (2, 64, 64, 3)
    np.testing.assert_allclose(x, 200 / 127.5 - 1.0, atol=1e-6)


def test_tfds_pipeline_is_seeded():
    def as_dataset(self, split, **kw):
        return tf.data.Dataset.range(40).map(
            lambda i: {"image": tf.fill([32, 32, 3], tf.cast(i * 6, tf.uint8)), "id": "x", "label": i}
        )

    def first(seed, shuffle=True):
        with tfds.testing.mock_data(as_dataset_fn=as_dataset):
            ds = image_dataset("cifar10", "train", 8, seed=seed, shuffle=shuffle)
            return np.stack([b.numpy()[:, 0, 0, 0] for b in ds.take(6)])  # 48 > 40: two epochs

    a, b, c = first(0), first(0), first(1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    levels = np.round((a.ravel()[:40] + 1) * 127.5).astype(int)  # first epoch: a permutation
    assert sorted(levels) == list(range(0, 240, 6))
    ordered = np.round((first(0, shuffle=False)[:5].ravel() + 1) * 127.5).astype(int)
    assert list(ordered) == list(range(0, 240, 6))


# ----------------------------------------------------------------------------- tfds, prepared offline


def _prepare_offline(tfds_name, data_dir, splits, shape_fn):
    """A really prepared tfds folder, written by the real builder with its generator patched (no network)."""
    builder = tfds.builder(tfds_name, data_dir=data_dir)
    cls = type(builder)

    def split_generators(self, dl_manager):
        return [tfds.core.SplitGenerator(name=s, gen_kwargs={"split": s, "n": n}) for s, n in splits.items()]

    def generate(self, split, n):
        for i in range(n):
            ex = {"image": np.full(shape_fn(i) + (3,), 10 + i, np.uint8)}
            for k, f in self.info.features.items():
                if k != "image":
                    ex[k] = "x" if isinstance(f, tfds.features.Text) else 0
            yield f"{split}{i}", ex

    return mock.patch.multiple(cls, _split_generators=split_generators, _generate_examples=generate)


def test_prepared_tfds_folder_is_read_offline(tmp_path):
    with _prepare_offline("stl10", str(tmp_path), {"train": 3, "test": 5, "unlabelled": 7}, lambda i: (96, 96)):
        tfds.builder("stl10", data_dir=str(tmp_path)).download_and_prepare()
    train = _one_pass("stl10", "train", data_dir=str(tmp_path))
    test = _one_pass("stl10", "test", data_dir=str(tmp_path))
    assert train.shape == (7, 48, 48, 3) and test.shape == (5, 48, 48, 3)
    levels = lambda x: sorted(np.round((x[:, 0, 0, 0] + 1) * 127.5).astype(int))  # noqa: E731
    assert levels(train) == list(range(10, 17)) and levels(test) == list(range(10, 15))
    # shuffled + repeated, n_dis * batch per element
    ds = image_dataset("stl10", "train", 2, n_dis=3, data_dir=str(tmp_path), seed=3)
    assert [b.shape for b in ds.take(4)] == [(6, 48, 48, 3)] * 4


def _with_splits(monkeypatch, name, **splits):
    """``image_dataset`` reads ``name`` with other splits (the registry's entry is left alone)."""
    original = image_data.dataset_info

    def info(n, resolution=None):
        entry = original(n, resolution)
        return dataclasses.replace(entry, **splits) if n == name else entry

    monkeypatch.setattr(image_data, "dataset_info", info)


def test_lsun_holdout_is_disjoint_from_train(tmp_path, monkeypatch):
    assert image_data.LSUN_TEST_HOLDOUT == 10_000
    _with_splits(monkeypatch, "lsun_bedroom", train_split="train[4:]", test_split="train[:4]")
    monkeypatch.setattr(image_data, "reachable", lambda url, timeout=3.0: True)  # the network, faked
    with _prepare_offline("lsun/bedroom", str(tmp_path), {"train": 12, "validation": 2}, lambda i: (40 + i, 50)):
        # download=True prepares through tfds (here with the patched generator: no network)
        image_dataset("lsun_bedroom", "train", 1, data_dir=str(tmp_path), download=True)
    levels = lambda x: set(np.round((x[:, 0, 0, 0] + 1) * 127.5).astype(int))  # noqa: E731
    train = _one_pass("lsun_bedroom", "train", data_dir=str(tmp_path))
    test = _one_pass("lsun_bedroom", "test", data_dir=str(tmp_path))
    assert train.shape == (8, 64, 64, 3) and test.shape == (4, 64, 64, 3)
    assert levels(train) | levels(test) == set(range(10, 22)) and not levels(train) & levels(test)


# ----------------------------------------------------------------------------- missing data


@pytest.mark.parametrize("name", TFDS_NAMES)
def test_missing_tfds_dataset_fails_fast_and_writes_nothing(name, tmp_path):
    empty = tmp_path / "tfds"
    empty.mkdir()
    absent = tmp_path / "absent"
    for data_dir in (empty, absent):
        start = time.perf_counter()
        with pytest.raises(DatasetNotFoundError) as err:
            image_dataset(name, "train", 4, data_dir=str(data_dir), download=False)
        assert time.perf_counter() - start < 10.0
        msg = str(err.value)
        tfds_name = dataset_info(name).tfds_name
        needles = (f"tfds build {tfds_name}", "download_and_prepare()", "--data_dir", "--download=false", str(data_dir))
        for needle in needles:
            assert needle in msg, (needle, msg)
    assert _files_under(tmp_path) == []  # no .tmp / incomplete files, nothing created
    assert not absent.exists()


@pytest.mark.parametrize("name", TFDS_NAMES)
def test_download_by_default_when_the_host_answers(name, tmp_path, monkeypatch):
    """Network faked reachable: tfds's download is asked for this name, in this data_dir, then read."""
    monkeypatch.setattr(image_data, "reachable", lambda url, timeout=3.0: url == dataset_info(name).download_url)
    if name == "lsun_bedroom":  # its test split is the first 10k of train: a few examples here
        _with_splits(monkeypatch, name, test_split="train[:2]")
    calls = []

    def download_and_prepare(builder, *args, **kwargs):
        calls.append((builder.name, builder.data_dir))
        shape = {"cifar10": (32, 32), "cifar100": (32, 32), "stl10": (96, 96)}.get(name, (40, 50))
        with _prepare_offline(dataset_info(name).tfds_name, str(tmp_path),
                              {"train": 3, "test": 2, "unlabelled": 3, "validation": 2}, lambda i: shape):
            original(builder)  # served from local examples instead of the internet

    builder_cls = type(tfds.builder(dataset_info(name).tfds_name, data_dir=str(tmp_path / "probe")))
    original = builder_cls.download_and_prepare
    monkeypatch.setattr(builder_cls, "download_and_prepare", download_and_prepare)
    ds = image_dataset(name, "test", 1, data_dir=str(tmp_path),
                       repeat=False, shuffle=False, cache=False, drop_remainder=False)
    (called, where), = calls  # one download, of this dataset, into this data_dir
    assert called == dataset_info(name).tfds_name.split("/")[0] and where.startswith(str(tmp_path) + os.sep), calls
    assert next(iter(ds)).shape[1:] == (dataset_info(name).resolution,) * 2 + (3,)


@pytest.mark.parametrize("name", TFDS_NAMES)
def test_download_fails_in_seconds_when_the_host_does_not_answer(name, tmp_path, monkeypatch):
    """Network faked unreachable: no download is tried, the error says where the data goes and the ways on."""
    monkeypatch.setattr(image_data, "reachable", lambda url, timeout=3.0: False)
    builder_cls = type(tfds.builder(dataset_info(name).tfds_name, data_dir=str(tmp_path / "probe")))
    monkeypatch.setattr(builder_cls, "download_and_prepare", lambda *a, **k: pytest.fail("must not download"))
    data_dir = tmp_path / "tfds"
    with pytest.raises(DatasetNotFoundError) as err:
        image_dataset(name, "train", 4, data_dir=str(data_dir))
    msg = str(err.value)
    host = urllib.parse.urlparse(dataset_info(name).download_url).hostname
    for needle in (f"{host} does not answer", "Nothing was downloaded or written", f"--data_dir={data_dir}",
                   "--mock_data", str(data_dir)):
        assert needle in msg, (needle, msg)
    assert not data_dir.exists() or _files_under(data_dir) == []


def test_missing_tinyimagenet_explains_layout(tmp_path):
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError, match=r"train/<wnid>/images/\*\.JPEG") as err:
        image_dataset("tinyimagenet", "train", 4, data_dir=str(tmp_path))
    assert time.perf_counter() - start < 10.0
    assert "val_annotations.txt" in str(err.value) and "--data_dir" in str(err.value)
    assert _files_under(tmp_path) == []


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="does not exist"):  # a DatasetNotFoundError
        image_dataset(f"folder:{tmp_path / 'nope'}", "train", 1, resolution=8)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetNotFoundError, match="No png/jpg"):
        image_dataset(f"folder:{tmp_path}", "train", 1, resolution=8)
    with pytest.raises(DatasetNotFoundError, match="no sub-folder 'test'"):
        image_dataset(f"folder:{tmp_path}", "test", 1, resolution=8)


# ----------------------------------------------------------------------------- image folders


def test_folder_reads_png_and_jpeg_recursively_with_exact_values(tmp_path):
    root = tmp_path / "imgs"
    _write_image(str(root / "a.png"), np.full((40, 30, 3), 255))  # non-square: crop 30x30, resize to 16
    _write_image(str(root / "sub" / "b.PNG"), np.full((20, 20, 3), 51))  # upsampled
    _write_image(str(root / "sub" / "deeper" / "c.jpg"), np.zeros((64, 64, 3)))
    _write_image(str(root / "d.jpeg"), np.full((33, 17, 3), 255), fmt="jpeg")
    _write_image(str(root / "gray.png"), np.full((16, 16, 1), 102))  # grayscale -> RGB
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 153, 7  # alpha dropped
    _write_image(str(root / "rgba.png"), rgba)
    (root / "readme.txt").write_text("ignored")
    x = _one_pass(f"folder:{root}", "train", resolution=16)
    assert x.shape == (6, 16, 16, 3) and x.dtype == np.float32
    per_image = sorted(np.unique(img).tolist()[0] for img in x)  # each image is constant on all channels
    assert all(len(np.unique(img)) == 1 for img in x)
    expected = sorted([1.0, 51 / 127.5 - 1, -1.0, 1.0, 102 / 127.5 - 1, 153 / 127.5 - 1])
    np.testing.assert_allclose(per_image, expected, atol=1e-6)
    assert x.max() == 1.0 and x.min() == -1.0  # 255 -> 1.0 and 0 -> -1.0 exactly


def test_folder_center_crop_and_split_subfolders(tmp_path):
    img = np.zeros((30, 50, 3), np.uint8)  # 10-pixel black margins left/right of a white square
    img[:, 10:40] = 255
    _write_image(str(tmp_path / "train" / "x.png"), img)
    _write_image(str(tmp_path / "test" / "y.png"), np.zeros((12, 12, 3)))
    train = _one_pass(f"folder:{tmp_path}", "train", resolution=8)
    test = _one_pass(f"folder:{tmp_path}", "test", resolution=8)
    np.testing.assert_array_equal(train, np.ones((1, 8, 8, 3), np.float32))
    np.testing.assert_array_equal(test, -np.ones((1, 8, 8, 3), np.float32))
    assert _one_pass(f"folder:{tmp_path}", "all", resolution=8).shape[0] == 2


def test_folder_batches_shuffle_and_cache_flag(tmp_path):
    for i in range(10):
        _write_image(str(tmp_path / f"{i:02d}.png"), np.full((8, 8, 3), 20 * i))
    for cache in (True, False):
        ds = image_dataset(f"folder:{tmp_path}", "train", 2, n_dis=2, resolution=8, seed=5, cache=cache)
        firsts = [b.numpy() for b in ds.take(5)]  # 20 images > 10: repeats across epochs
        assert all(b.shape == (4, 8, 8, 3) for b in firsts)
        levels = np.round((np.concatenate(firsts)[:, 0, 0, 0] + 1) * 127.5).astype(int)
        assert sorted(levels[:10]) == list(range(0, 200, 20))  # first epoch: each image once
        assert list(levels[:10]) != list(range(0, 200, 20))  # shuffled
    one = image_dataset(f"folder:{tmp_path}", "train", 3, resolution=8, repeat=False, shuffle=False)
    assert [b.shape[0] for b in one] == [3, 3, 3]  # drop_remainder
    keep = image_dataset(f"folder:{tmp_path}", "train", 3, resolution=8, repeat=False, drop_remainder=False)
    assert [b.shape[0] for b in keep] == [3, 3, 3, 1]


def test_corrupt_files_are_named(tmp_path):
    _write_image(str(tmp_path / "good.png"), np.full((8, 8, 3), 9))
    (tmp_path / "garbage.png").write_bytes(b"this is not a png at all")
    (tmp_path / "empty.jpg").write_bytes(b"")
    jpeg = tf.io.encode_jpeg(tf.fill([32, 32, 3], tf.constant(128, tf.uint8))).numpy()
    (tmp_path / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    with pytest.raises(BadImagesError) as err:
        image_dataset(f"folder:{tmp_path}", "train", 1, resolution=8)
    # One except clause tells "the data cannot be used" from a bug; older `except ValueError` still matches.
    assert isinstance(err.value, DatasetUnavailableError) and isinstance(err.value, ValueError)
    msg = str(err.value)
    assert "3 of 4 image files" in msg
    for bad in ("garbage.png", "empty.jpg", "truncated.jpg"):
        assert os.path.join(str(tmp_path), bad) in msg
    assert "good.png" not in msg and "cannot be decoded" in msg
    # The advice is what a command-line user can do: there is no flag to skip the check (validate= is Python's).
    assert "fix or remove" in msg.splitlines()[0] and "pass validate=False" not in msg


# ----------------------------------------------------------------------------- Tiny ImageNet


def _tiny_imagenet(root, bad_size=False):
    base = root / "tiny-imagenet-200"
    for w, wnid in enumerate(("n01443537", "n01629819")):
        for i in range(3):
            _write_image(str(base / "train" / wnid / "images" / f"{wnid}_{i}.JPEG"), np.full((64, 64, 3), 255), "jpeg")
        (base / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
    lines = []
    for i in range(4):
        _write_image(str(base / "val" / "images" / f"val_{i}.JPEG"), np.zeros((64, 64, 3)), "jpeg")
        lines.append(f"val_{i}.JPEG\tn01443537\t0\t0\t63\t63\n")
    (base / "val" / "val_annotations.txt").write_text("".join(lines))
    _write_image(str(base / "test" / "images" / "test_0.JPEG"), np.full((64, 64, 3), 128), "jpeg")
    if bad_size:
        _write_image(str(base / "train" / "n01443537" / "images" / "small.JPEG"), np.zeros((32, 32, 3)), "jpeg")
    return base


def test_tinyimagenet_layout(tmp_path):
    base = _tiny_imagenet(tmp_path)
    for data_dir in (tmp_path, base):  # the archive folder or its parent
        train = _one_pass("tinyimagenet", "train", data_dir=str(data_dir))
        test = _one_pass("tinyimagenet", "test", data_dir=str(data_dir))
        assert train.shape == (6, 64, 64, 3) and test.shape == (4, 64, 64, 3)
        np.testing.assert_array_equal(train, 1.0)  # JPEG white stays 255 -> 1.0
        np.testing.assert_array_equal(test, -1.0)  # val/, never test/ (128)
    ds = image_dataset("tinyimagenet", "train", 2, n_dis=2, data_dir=str(tmp_path))
    assert ds.element_spec.shape.as_list() == [4, 64, 64, 3]


def test_tinyimagenet_wrong_size_is_named(tmp_path):
    _tiny_imagenet(tmp_path, bad_size=True)
    with pytest.raises(ValueError, match=r"small\.JPEG: is 32x32, expected 64x64"):
        image_dataset("tinyimagenet", "train", 2, data_dir=str(tmp_path))


# ----------------------------------------------------------------------------- reference resizing


def test_resize_matches_pil_bilinear_as_torchvision_resize():
    """mimicry's torchvision Resize / CenterCrop on PIL images: bit-exact for 96 -> 48."""
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    stl = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    ours = image_data.to_square_uint8(stl, 48).numpy()
    np.testing.assert_array_equal(ours, np.asarray(Image.fromarray(stl).resize((48, 48), Image.BILINEAR)))
    small = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)  # upsampling
    ours = image_data.to_square_uint8(small, 60).numpy()
    np.testing.assert_array_equal(ours, np.asarray(Image.fromarray(small).resize((60, 60), Image.BILINEAR)))
    lsun = rng.integers(0, 256, (256, 342, 3), dtype=np.uint8)  # even margins: crop offsets agree
    ours = image_data.to_square_uint8(lsun, 64).numpy().astype(int)
    left = (342 - 256) // 2
    ref = np.asarray(Image.fromarray(lsun).crop((left, 0, left + 256, 256)).resize((64, 64), Image.BILINEAR))
    assert np.abs(ours - ref).max() <= 1 and np.mean(ours != ref) < 0.002  # PIL's fixed-point weights
