"""Datasets by name: everything about one dataset, in one entry, and how to load it.

A name is registered once, with its metadata (shape, native size, where the
images come from, tfds name, train/test splits, sizes, preprocessing); the run
config, the training loop, the image pipeline (:mod:`dat_tf.data.images`),
the metrics (:mod:`dat_tf.metrics.realstats`) and the CLIs read it from here.
``folder:<path>`` names an image folder (any size; give ``resolution``).

Example:

>>> get_dataset("cifar10").shape()
(32, 32, 3)
>>> get_dataset("digits").shape(16)
(16, 16, 1)
>>> get_dataset("lsun_bedroom").split_for("test")
'train[:10000]'
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

from dat_tf.registry import Registry, caller_module

FOLDER_PREFIX = "folder:"
LSUN_TEST_HOLDOUT = 10_000
SOURCES = ("generated", "bundled", "tfds", "tinyimagenet", "folder")

NATIVE = "no resize (native size); centre crop / resize only if resolution is overridden"
CROP_RESIZE = "centre crop to a square of the shorter side, PIL-style antialiased bilinear resize to R (uint8)"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A registered dataset: the one description every reader uses.

    Attributes:
      name: the ``--dataset`` value.
      help: one line for flag help and docs.
      kind: ``"points"`` (2D vectors) or ``"images"``.
      resolution: native image side (0 for points; 0 for folders: must be given).
      channels: image channels (0 for points).
      source: where the examples come from: ``"generated"``, ``"bundled"``
        (ships with a package, offline), ``"tfds"`` (tensorflow-datasets),
        ``"tinyimagenet"`` (the unzipped official archive) or ``"folder"``.
      load: ``load(split, batch_size, *, n_dis, seed, resolution, data_dir,
        download, mixture_std, shuffle, repeat) -> tf.data.Dataset`` of
        ``[n_dis * batch_size, *shape]`` float32 batches (images in [-1, 1]).
      sample: for points, ``sample(num, seed, mixture_std) -> [num, 2]`` numpy
        (plots); ``None`` for images.
      arrays: ``arrays(split, resolution) -> [N, R, R, C]`` numpy in [-1, 1]
        for a dataset small enough to hold (the metrics' real images without a
        pipeline); ``None`` otherwise.
      tfds_name: the tensorflow-datasets builder (``source="tfds"``).
      train_split, test_split: what the roles ``"train"`` / ``"test"`` read (tfds
        split strings, or sub-folders), as the paper's A.2; ``None``: none.
      num_train, num_test: sizes of the two roles (``None`` if unknown).
      preprocessing: one line saying what is done to each image.
      download_url: the file to download (tfds probes its host first; for
        Tiny-ImageNet the archive to fetch by hand).
    """

    name: str
    help: str
    kind: str
    resolution: int
    channels: int
    source: str
    load: Callable
    sample: Callable | None = None
    arrays: Callable | None = None
    tfds_name: Optional[str] = None
    train_split: Optional[str] = "train"
    test_split: Optional[str] = None
    num_train: Optional[int] = None
    num_test: Optional[int] = None
    preprocessing: str = ""
    download_url: Optional[str] = None

    def image_resolution(self, resolution: int | None = None) -> int:
        """Side of the images a run gets (0 for points): ``resolution`` if given, else the native one."""
        if self.kind == "points":
            return 0
        return resolution or self.resolution

    def shape(self, resolution: int | None = None) -> tuple:
        """Per-example shape: ``(2,)`` for points, ``(R, R, C)`` for images."""
        if self.kind == "points":
            return (2,)
        res = self.image_resolution(resolution)
        return (res, res, self.channels)

    def split_for(self, split: str) -> str:
        """Maps a role (``"train"``/``"test"``) to the split read; other strings pass through."""
        role = {"train": self.train_split, "test": self.test_split}.get(split, split)
        if role is None:
            raise ValueError(f"Dataset {self.name!r} has no {split} split.")
        return role

    def at(self, resolution: int | None) -> "Dataset":
        """This entry at ``resolution`` (``None``: the native one); another size is cropped and resized."""
        if resolution is None or resolution == self.resolution:
            return self
        return dataclasses.replace(self, resolution=resolution, preprocessing=CROP_RESIZE)


def _check(dataset: Dataset) -> Dataset:
    if dataset.kind not in ("points", "images"):
        raise ValueError(f"Dataset kind must be 'points' or 'images', got {dataset.kind!r}.")
    if dataset.source not in SOURCES:
        raise ValueError(f"Dataset source must be one of {list(SOURCES)}, got {dataset.source!r}.")
    return dataset


def _folder(name: str):
    """The entry of ``folder:<path>`` (not registered: any path is a dataset)."""
    if not name.startswith(FOLDER_PREFIX) or len(name) == len(FOLDER_PREFIX):
        return None
    return Dataset(name, "Images in a folder.", "images", 0, 3, "folder", _image_loader(name), test_split="test",
                   preprocessing=CROP_RESIZE)


DATASETS = Registry("dataset", patterns=(FOLDER_PREFIX + "<path>",), resolve=_folder)
"""Name -> :class:`Dataset`, in registration order (``folder:<path>`` is a pattern, not listed)."""


def register_dataset(dataset: Dataset) -> Dataset:
    """Makes ``dataset`` the ``--dataset`` value ``dataset.name``; a name another module registered is refused."""
    return DATASETS.add(dataset.name, _check(dataset), owner=caller_module())


def names() -> tuple:
    """The valid ``--dataset`` values, with the ``folder:<path>`` pattern last."""
    return DATASETS.names()


def get_dataset(name: str) -> Dataset:
    """The dataset called ``name``; ``folder:<path>`` gives an image-folder entry.

    Raises:
      ValueError: for an unknown name, naming it, the valid ones and the closest one.
    """
    return DATASETS.lookup(name)


# ----------------------------------------------------------------------------- built-in datasets


def _mixture(kind):
    def load(split, batch_size, *, n_dis=1, seed=0, mixture_std=None, **_):
        from dat_tf.data.toy import DEFAULT_STD, gaussian_mixture

        del split  # a generated stream has no splits
        std = DEFAULT_STD if mixture_std is None else mixture_std
        return gaussian_mixture(batch_size, kind=kind, std=std, n_dis=n_dis, seed=seed)

    def sample(num, seed=0, mixture_std=None):
        from dat_tf.data.toy import DEFAULT_STD, sample_mixture

        return sample_mixture(num, kind, DEFAULT_STD if mixture_std is None else mixture_std, seed=seed)

    return load, sample


def _digits(split, batch_size, *, n_dis=1, seed=0, resolution=None, **_):
    from dat_tf.data.digits import digits

    return digits(batch_size, n_dis=n_dis, resolution=resolution or None, split=split, seed=seed)


def _image_loader(name):
    def load(split, batch_size, *, n_dis=1, seed=0, resolution=None, data_dir=None, download=True,
             shuffle=True, repeat=True, **_):
        from dat_tf.data.images import image_dataset

        eval_kwargs = {} if repeat else {"cache": False, "drop_remainder": False}
        return image_dataset(name, split, batch_size, n_dis=n_dis, data_dir=data_dir or None, seed=seed,
                             shuffle=shuffle, repeat=repeat, download=download, resolution=resolution or None,
                             **eval_kwargs)

    return load


def _digits_arrays(split, resolution=None):
    from dat_tf.data.digits import load_digits_array

    return load_digits_array(resolution, split=split)[0]


for _kind, _help in (("balanced", "the paper's 9 Gaussians on {-1,0,1}^2, equal weights (Figure 3)"),
                     ("imbalanced", "the 9 Gaussians with column weights 0.15 / 0.05 / 0.8 (Figure 3)")):
    _load, _sample = _mixture(_kind)
    register_dataset(Dataset(f"mixture_{_kind}", _help, "points", 0, 0, "generated", _load, _sample,
                             train_split=None))
register_dataset(Dataset("digits", "scikit-learn's bundled 8x8 handwritten digits (offline)", "images", 8, 1,
                         "bundled", _digits, arrays=_digits_arrays, test_split="test", num_train=1438, num_test=359,
                         preprocessing="x / 8 - 1; bilinear resize if resolution is overridden"))
register_dataset(Dataset("cifar10", "CIFAR-10 via tfds", "images", 32, 3, "tfds", _image_loader("cifar10"),
                         tfds_name="cifar10", test_split="test", num_train=50_000, num_test=10_000,
                         preprocessing=NATIVE, download_url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"))
register_dataset(Dataset("cifar100", "CIFAR-100 via tfds", "images", 32, 3, "tfds", _image_loader("cifar100"),
                         tfds_name="cifar100", test_split="test", num_train=50_000, num_test=10_000,
                         preprocessing=NATIVE, download_url="https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"))
register_dataset(Dataset("stl10", "STL-10 unlabelled via tfds, resized to 48x48", "images", 48, 3, "tfds",
                         _image_loader("stl10"), tfds_name="stl10", train_split="unlabelled", test_split="test",
                         num_train=100_000, num_test=8_000,
                         preprocessing="96x96 -> PIL-style antialiased bilinear resize to 48 (uint8), as mimicry's "
                                       "Resize(48)",
                         download_url="http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"))
register_dataset(Dataset("lsun_bedroom", "LSUN bedroom via tfds, 64x64, first 10k of train held out as test", "images",
                         64, 3, "tfds", _image_loader("lsun_bedroom"), tfds_name="lsun/bedroom",
                         train_split=f"train[{LSUN_TEST_HOLDOUT}:]", test_split=f"train[:{LSUN_TEST_HOLDOUT}]",
                         num_test=LSUN_TEST_HOLDOUT, preprocessing=CROP_RESIZE + " (mimicry CenterCrop(256) + Resize)",
                         download_url="http://dl.yf.io/lsun/scenes/bedroom_train_lmdb.zip"))
register_dataset(Dataset("tinyimagenet", "Tiny-ImageNet 64x64 from an unzipped tiny-imagenet-200 folder (--data_dir)",
                         "images", 64, 3, "tinyimagenet", _image_loader("tinyimagenet"), test_split="val",
                         num_train=100_000, num_test=10_000, preprocessing=NATIVE,
                         download_url="http://cs231n.stanford.edu/tiny-imagenet-200.zip"))

del _kind, _help, _load, _sample
