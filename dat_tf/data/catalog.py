"""The built-in datasets: one :class:`~dat_tf.data.registry.Dataset` entry each, and their loaders.

Registered when :mod:`dat_tf.data` is imported (so before anything reads the
registry).  Kept apart from :mod:`dat_tf.data.registry` because the image
loaders call :mod:`dat_tf.data.images`, which reads the registry: the entries
depend on both, neither on them.  No TensorFlow at import: loaders import
their modules when called.
"""

from __future__ import annotations

from dat_tf.data.registry import (
    CROP_RESIZE,
    DATASETS,
    FOLDER_PREFIX,
    LSUN_TEST_HOLDOUT,
    NATIVE,
    Dataset,
    register_dataset,
)


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


def _folder(name: str):
    """The entry of ``folder:<path>`` (not registered: any path is a dataset)."""
    if not name.startswith(FOLDER_PREFIX) or len(name) == len(FOLDER_PREFIX):
        return None
    return Dataset(name, "Images in a folder.", "images", 0, 3, "folder", _image_loader(name), test_split="test",
                   preprocessing=CROP_RESIZE)


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

DATASETS.add_pattern(FOLDER_PREFIX + "<path>", _folder)

del _kind, _help, _load, _sample
