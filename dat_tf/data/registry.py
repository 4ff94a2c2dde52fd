"""Datasets by name: everything about one dataset, in one entry, and how to load it.

A name is registered once, with its metadata (shape, native size, where the
images come from, tfds name, train/test splits, sizes, preprocessing); the run
config, the training loop, the image pipeline (:mod:`dat_tf.data.images`),
the metrics (:mod:`dat_tf.metrics.realstats`) and the CLIs read it from here.
``folder:<path>`` names an image folder (any size; give ``resolution``).  The
built-in entries are in :mod:`dat_tf.data.catalog` (importing this module
imports its package, which registers them).

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


DATASETS = Registry("dataset")
"""Name -> :class:`Dataset`, in registration order (``folder:<path>`` is a pattern, not an entry); the built-in
entries are in :mod:`dat_tf.data.catalog`, registered when :mod:`dat_tf.data` is imported."""


def register_dataset(dataset: Dataset) -> Dataset:
    """Makes ``dataset`` the ``--dataset`` value ``dataset.name``; a name another module registered is refused."""
    return DATASETS.add(dataset.name, _check(dataset), owner=caller_module())


def get_dataset(name: str) -> Dataset:
    """The dataset called ``name``; ``folder:<path>`` gives an image-folder entry.

    Raises:
      ValueError: for an unknown name, naming it, the valid ones and the closest one.
    """
    return DATASETS.lookup(name)
