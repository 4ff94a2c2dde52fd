"""Datasets by name: what each is (shape, native size, source) and how to load it.

A name is registered once, with its metadata; the run config, the training
loop, the metrics and the CLIs read it from here.  ``folder:<path>`` names an
image folder (any size; give ``resolution``).

Example:

>>> get_dataset("cifar10").shape()
(32, 32, 3)
>>> get_dataset("digits").shape(16)
(16, 16, 1)
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Callable


FOLDER_PREFIX = "folder:"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A registered dataset.

    Attributes:
      name: the ``--dataset`` value.
      help: one line for flag help and docs.
      kind: ``"points"`` (2D vectors) or ``"images"``.
      resolution: native image side (0 for points; 0 for folders: must be given).
      channels: image channels (0 for points).
      source: ``"generated"``, ``"bundled"`` (ships with a package, offline),
        ``"tfds"`` (tensorflow-datasets) or ``"folder"``.
      load: ``load(split, batch_size, *, n_dis, seed, resolution, data_dir,
        download, mixture_std, shuffle, repeat) -> tf.data.Dataset`` of
        ``[n_dis * batch_size, *shape]`` float32 batches (images in [-1, 1]).
      sample: for points, ``sample(num, seed, mixture_std) -> [num, 2]`` numpy
        (plots); ``None`` for images.
    """

    name: str
    help: str
    kind: str
    resolution: int
    channels: int
    source: str
    load: Callable
    sample: Callable | None = None

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


DATASETS: dict[str, Dataset] = {}
"""Name -> :class:`Dataset`, in registration order (``folder:<path>`` is not listed)."""


def register_dataset(dataset: Dataset) -> Dataset:
    """Adds ``dataset`` under ``dataset.name`` (replacing an entry of that name)."""
    if dataset.kind not in ("points", "images"):
        raise ValueError(f"Dataset kind must be 'points' or 'images', got {dataset.kind!r}.")
    DATASETS[dataset.name] = dataset
    return dataset


def names() -> tuple:
    """The valid ``--dataset`` values, with the ``folder:<path>`` pattern last."""
    return tuple(DATASETS) + (FOLDER_PREFIX + "<path>",)


def get_dataset(name: str) -> Dataset:
    """The dataset called ``name``; ``folder:<path>`` gives an image-folder entry.

    Raises:
      ValueError: for an unknown name, listing the valid ones.
    """
    if isinstance(name, str) and name.startswith(FOLDER_PREFIX) and len(name) > len(FOLDER_PREFIX):
        return Dataset(name, "Images in a folder.", "images", 0, 3, "folder", _image_loader(name))
    if name not in DATASETS:
        close = difflib.get_close_matches(str(name), DATASETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"Unknown dataset {name!r}{hint}; expected one of {list(names())}.")
    return DATASETS[name]


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


for _kind, _help in (("balanced", "the paper's 9 Gaussians on {-1,0,1}^2, equal weights (Figure 3)"),
                     ("imbalanced", "the 9 Gaussians with column weights 0.15 / 0.05 / 0.8 (Figure 3)")):
    _load, _sample = _mixture(_kind)
    register_dataset(Dataset(f"mixture_{_kind}", _help, "points", 0, 0, "generated", _load, _sample))
register_dataset(Dataset("digits", "scikit-learn's bundled 8x8 handwritten digits (offline)", "images", 8, 1,
                         "bundled", _digits))
for _name, _res, _help in (
    ("cifar10", 32, "CIFAR-10 via tfds"),
    ("cifar100", 32, "CIFAR-100 via tfds"),
    ("stl10", 48, "STL-10 unlabelled via tfds, resized to 48x48"),
    ("lsun_bedroom", 64, "LSUN bedroom via tfds, 64x64, first 10k of train held out as test"),
):
    register_dataset(Dataset(_name, _help, "images", _res, 3, "tfds", _image_loader(_name)))
register_dataset(Dataset("tinyimagenet", "Tiny-ImageNet 64x64 from an unzipped tiny-imagenet-200 folder (--data_dir)",
                         "images", 64, 3, "folder", _image_loader("tinyimagenet")))

del _kind, _help, _load, _sample, _name, _res
