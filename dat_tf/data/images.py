"""Image datasets of the paper's Table 1/2 through tensorflow-datasets and image folders.

Design notes: docs/design.md, "Image datasets: splits and preprocessing".
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from typing import Optional

import numpy as np
import tensorflow as tf

from dat_tf.data.errors import BadImagesError, DatasetNotFoundError, DatasetUnavailableError
from dat_tf.data.registry import DATASETS, FOLDER_PREFIX, LSUN_TEST_HOLDOUT, Dataset, get_dataset
from dat_tf.network import reachable

__all__ = [
    "LSUN_TEST_HOLDOUT",
    "BadImagesError",
    "DatasetNotFoundError",
    "DatasetUnavailableError",
    "dataset_info",
    "default_cache_limit_bytes",
    "image_dataset",
    "list_images",
    "to_square_uint8",
    "to_unit_range",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_LISTED_BAD_FILES = 20
DEFAULT_MAX_SHUFFLE_BUFFER = 100_000
_READERS = ("tfds", "tinyimagenet", "folder")


def _check_resolution(resolution):
    if resolution is not None and (not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < 1):
        raise ValueError(f"resolution must be a positive integer or None, got {resolution!r}.")


def dataset_info(name: str, resolution: Optional[int] = None) -> Dataset:
    """The registry entry of an image dataset this module reads, at ``resolution``.

    Its resolution, tfds name, train/test splits, sizes and preprocessing;
    ``resolution`` overrides the paper's size (e.g. LSUN at 128 as mimicry's
    ``lsun_bedroom_128``); ``folder:<path>`` datasets need it.

    Raises:
      ValueError: an unknown name, one this module does not read, or a bad resolution.
    """
    _check_resolution(resolution)
    info = get_dataset(name)
    if info.source not in _READERS:
        readable = [n for n, d in DATASETS.items() if d.source in _READERS] + [FOLDER_PREFIX + "<path>"]
        raise ValueError(f"{name!r} is not read by image_dataset (its source is {info.source!r}; use "
                         f"get_dataset({name!r}).load); expected one of {readable}.")
    if info.source == "folder" and resolution is None:
        raise ValueError(f"{name!r}: folder datasets need resolution= (the output size R).")
    return info.at(resolution)


# ----------------------------------------------------------------------------- preprocessing


def to_square_uint8(image: tf.Tensor, resolution: int) -> tf.Tensor:
    """``[h, w, 3]`` uint8 -> ``[R, R, 3]`` uint8: centre crop, then antialiased bilinear resize.

    Images already ``R x R`` pass through unchanged.
    """
    image = tf.convert_to_tensor(image)
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    s = tf.minimum(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    image = image[top : top + s, left : left + s, :]

    def round_half_up(x):  # PIL rounds halves up; tf.round rounds them to even
        return tf.clip_by_value(tf.floor(x + 0.5), 0.0, 255.0)

    def resize():  # two separable passes rounded to uint8 in between, width first, like PIL
        x = tf.cast(image, tf.float32)
        x = round_half_up(tf.image.resize(x, [s, resolution], method="bilinear", antialias=True))
        x = round_half_up(tf.image.resize(x, [resolution, resolution], method="bilinear", antialias=True))
        return tf.cast(x, tf.uint8)

    out = tf.cond(tf.equal(s, resolution), lambda: tf.cast(image, tf.uint8), resize)
    return tf.ensure_shape(out, [resolution, resolution, 3])


def to_unit_range(images: tf.Tensor) -> tf.Tensor:
    """uint8 ``0..255`` -> float32 ``[-1, 1]`` (``x / 127.5 - 1``; 0 -> -1, 255 -> 1 exactly)."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def _decode_file(path: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, dtype=tf.uint8, expand_animations=False)
    return tf.ensure_shape(image, [None, None, 3])


# ----------------------------------------------------------------------------- pipeline


def _check_batch(batch_size, n_dis):
    for label, v in (("batch_size", batch_size), ("n_dis", n_dis)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {v!r}.")


def _memory_bytes() -> Optional[int]:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def default_cache_limit_bytes() -> int:
    """Largest in-memory cache ``cache=True`` builds: a quarter of RAM, at most 16 GiB."""
    mem = _memory_bytes()
    return min(16 << 30, mem // 4) if mem else 4 << 30


def _finish(
    ds: tf.data.Dataset,
    *,
    num_examples: Optional[int],
    resolution: int,
    batch_size: int,
    n_dis: int,
    seed: int,
    shuffle: bool,
    repeat: bool,
    cache,
    shuffle_buffer: Optional[int],
    drop_remainder: bool,
    what: str,
) -> tf.data.Dataset:
    """uint8 ``[R, R, 3]`` examples -> cached, shuffled, repeated float batches."""
    if cache:
        limit = default_cache_limit_bytes() if cache is True else int(cache)
        need = None if num_examples is None else num_examples * resolution * resolution * 3
        if need is None or need <= limit:
            ds = ds.cache()
        else:
            logger.warning(
                "%s: not caching in memory (%.1f GiB of uint8 images > limit %.1f GiB); reading from disk every epoch.",
                what, need / 2**30, limit / 2**30,
            )
    if shuffle:
        buf = shuffle_buffer or (min(num_examples, DEFAULT_MAX_SHUFFLE_BUFFER) if num_examples else 10_000)
        ds = ds.shuffle(max(int(buf), 1), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(n_dis * batch_size, drop_remainder=drop_remainder)
    ds = ds.map(to_unit_range, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def image_dataset(
    name: str,
    split: str,
    batch_size: int,
    n_dis: int = 1,
    data_dir: Optional[str] = None,
    seed: int = 0,
    shuffle: bool = True,
    repeat: bool = True,
    cache=True,
    download: bool = True,
    *,
    resolution: Optional[int] = None,
    shuffle_buffer: Optional[int] = None,
    drop_remainder: bool = True,
    validate: bool = True,
) -> tf.data.Dataset:
    """Batches ``[n_dis * batch_size, R, R, 3]`` float32 in ``[-1, 1]`` of an image dataset.

    Args:
      name: ``cifar10``, ``cifar100``, ``stl10``, ``lsun_bedroom``,
        ``tinyimagenet`` or ``folder:<path>`` (see the module docstring).
      split: ``"train"`` or ``"test"`` (the roles of the paper's A.2, mapped by
        :func:`dataset_info`), or a tfds split string / sub-folder name.
      batch_size, n_dis: each element holds ``n_dis * batch_size`` images.
      data_dir: tfds data folder (``None``: tfds's default,
        ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``); for ``tinyimagenet``
        the ``tiny-imagenet-200`` folder or its parent.
      seed: seeds tfds's file shuffling and the example shuffle.
      shuffle: shuffle examples (a fresh seeded permutation every epoch).
      repeat: repeat forever (``False``: one pass).
      cache: ``True`` caches the uint8 ``R x R`` images in memory when their
        size is known to fit :func:`default_cache_limit_bytes` (LSUN's 3M
        images do not); ``False`` never; an int is a byte limit.
      download: download and prepare a tfds dataset that is not prepared (tfds's own default), after a
        probe of its download host of at most 3 s; ``False`` never reaches out.
      resolution: output size; ``None`` is the paper's (required for folders).
      shuffle_buffer: default ``min(num_examples, 100_000)``.
      drop_remainder: drop a last partial batch (keep ``False`` for a one-pass
        evaluation over every image).
      validate: decode every image-folder file up front and report bad files.

    Raises:
      DatasetNotFoundError: data missing, and ``download=False`` or its host unreachable (in seconds).
      BadImagesError: unreadable or wrongly sized images in a folder (listed;
        a ``ValueError`` and a :class:`DatasetUnavailableError`).
      ValueError: bad arguments.
    """
    _check_batch(batch_size, n_dis)
    info = dataset_info(name, resolution)
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a non-empty string, got {split!r}.")
    common = dict(
        resolution=info.resolution, batch_size=batch_size, n_dis=n_dis, seed=seed, shuffle=shuffle,
        repeat=repeat, cache=cache, shuffle_buffer=shuffle_buffer, drop_remainder=drop_remainder,
    )
    if info.source == "tfds":
        examples, num = _tfds_examples(info, info.split_for(split), data_dir, seed, shuffle, download)
        return _finish(examples, num_examples=num, what=f"{info.name}[{split}]", **common)
    if info.source == "tinyimagenet":  # not in the tfds catalogue: nothing to download (the error says how)
        paths = _tinyimagenet_files(data_dir, info.split_for(split))
        expected = (64, 64)
    else:
        paths = _folder_files(info.name[len(FOLDER_PREFIX):], split)
        expected = None
    if validate:
        _validate_files(paths, expected)
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(paths, dtype=object).astype(str))
    if shuffle:  # shuffle the file order once (seeded) so the first, uncached epoch is shuffled too
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=False)
    ds = ds.map(
        lambda p: to_square_uint8(_decode_file(p), info.resolution), num_parallel_calls=tf.data.AUTOTUNE
    )
    return _finish(ds, num_examples=len(paths), what=f"{info.name}[{split}]", **common)


# ----------------------------------------------------------------------------- tfds


def _prepare_hint(info: Dataset, data_dir: Optional[str]) -> str:
    name, target = info.tfds_name, data_dir or "DIR"
    needs = "`pip install importlib_resources`"
    if name.startswith("lsun"):
        needs = "`pip install importlib_resources tensorflow-io`: tfds reads LSUN's lmdb with it; ~43 GB to download"
    return (
        f"To prepare it, on a machine with internet ({needs}):\n"
        f"  tfds build {name} --data_dir={target}\n"
        f"  # or: python -c \"import tensorflow_datasets as tfds; "
        f"tfds.builder('{name}', data_dir='{target}').download_and_prepare()\"\n"
        f"then copy {target} here and pass --data_dir={target} (data_dir= in Python); on a machine with "
        f"network it is downloaded on first use (download=True, the default; --download=false forbids it)."
    )


DOWNLOAD_PROBE_SECONDS = 3.0


def _tfds_examples(info: Dataset, tfds_split: str, data_dir, seed, shuffle, download):
    import tensorflow_datasets as tfds  # noqa: PLC0415 - import cost only where tfds is used

    builder = tfds.builder(info.tfds_name, data_dir=data_dir)
    read_config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)

    def read():
        return builder.as_dataset(split=tfds_split, shuffle_files=shuffle, read_config=read_config)

    try:
        ds = read()
    except AssertionError as e:  # tfds: "could not find data in ..."
        where = builder.data_dir  # <data_dir>/<name>[/<config>]/<version>
        found = ""
        parent = os.path.dirname(where)
        if os.path.isdir(parent) and os.listdir(parent):
            versions = sorted(os.listdir(parent))
            found = f" ({parent} holds versions {versions}; this tfds reads {os.path.basename(where)})"
        missing = f"Dataset {info.name!r} (tfds {info.tfds_name!r}, split {tfds_split!r}) is not prepared in {where}{found}"
        if not download:
            raise DatasetNotFoundError(
                f"{missing}, and download=False (--download=false: no download is tried).\n"
                + _prepare_hint(info, data_dir)
            ) from e
        # Without network tfds would retry for minutes and leave .tmp files: ask the host first, briefly.
        if info.download_url and not reachable(info.download_url, DOWNLOAD_PROBE_SECONDS):
            host = urllib.parse.urlparse(info.download_url).hostname
            raise DatasetNotFoundError(
                f"{missing}, and it cannot be downloaded from here: {host} does not answer within "
                f"{DOWNLOAD_PROBE_SECONDS:g} s (no network?). Nothing was downloaded or written.\n"
                + _prepare_hint(info, data_dir)
                + "\nOr run a smoke test on random images with --mock_data."
            ) from e
        builder.download_and_prepare()
        ds = read()
    try:
        num = int(builder.info.splits[tfds_split].num_examples)
    except Exception:  # noqa: BLE001 - unknown under mocks or odd split strings
        num = None
    ds = ds.map(lambda ex: to_square_uint8(ex["image"], info.resolution), num_parallel_calls=tf.data.AUTOTUNE)
    return ds, num


# ----------------------------------------------------------------------------- folders


def list_images(root: str) -> list[str]:
    """Image files (png/jpg/jpeg/bmp/gif, any case) under ``root``, recursively, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        out.extend(os.path.join(dirpath, f) for f in filenames if f.lower().endswith(IMAGE_EXTENSIONS))
    return sorted(out)


def _folder_files(root: str, split: str) -> list[str]:
    if not os.path.isdir(root):
        raise DatasetNotFoundError(
            f"Image folder {root!r} does not exist. 'folder:<path>' reads every png/jpg/jpeg/bmp/gif under "
            f"<path> (recursively), or <path>/<split> when that sub-folder exists."
        )
    sub = os.path.join(root, split)
    if os.path.isdir(sub):
        folder = sub
    elif split in ("train", "all"):
        folder = root
    else:
        raise DatasetNotFoundError(
            f"Image folder {root!r} has no sub-folder {split!r}; split 'train' (or 'all') reads the whole "
            f"folder, any other split reads <path>/<split>."
        )
    files = list_images(folder)
    if not files:
        raise DatasetNotFoundError(f"No png/jpg/jpeg/bmp/gif images under {folder!r}.")
    return files


def _tinyimagenet_layout_hint(data_dir) -> str:
    return (
        f"Tiny ImageNet is not in the tfds catalogue: download {get_dataset('tinyimagenet').download_url}, unzip it, "
        f"and pass --data_dir (data_dir=) pointing at the tiny-imagenet-200 folder (or its parent), laid out as "
        f"the official archive:\n"
        f"  tiny-imagenet-200/train/<wnid>/images/*.JPEG   (100,000 images, 64x64)\n"
        f"  tiny-imagenet-200/val/images/*.JPEG            (10,000 images)\n"
        f"  tiny-imagenet-200/val/val_annotations.txt\n"
        f"(looked in {data_dir!r})"
    )


def _tinyimagenet_root(data_dir: Optional[str]) -> str:
    if data_dir is None:
        data_dir = os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
    for cand in (data_dir, os.path.join(data_dir, "tiny-imagenet-200")):
        if os.path.isdir(os.path.join(cand, "train")) and os.path.isdir(os.path.join(cand, "val")):
            return cand
    raise DatasetNotFoundError("No Tiny ImageNet found. " + _tinyimagenet_layout_hint(data_dir))


def _tinyimagenet_files(data_dir: Optional[str], split: str) -> list[str]:
    root = _tinyimagenet_root(data_dir)
    if split == "train":
        train = os.path.join(root, "train")
        files = sorted(
            os.path.join(train, wnid, "images", f)
            for wnid in os.listdir(train)
            if os.path.isdir(os.path.join(train, wnid, "images"))
            for f in os.listdir(os.path.join(train, wnid, "images"))
            if f.lower().endswith(IMAGE_EXTENSIONS)
        )
    elif split == "val":
        images = os.path.join(root, "val", "images")
        ann = os.path.join(root, "val", "val_annotations.txt")
        if os.path.isfile(ann):
            with open(ann, encoding="utf-8") as fh:
                names = [line.split("\t")[0].strip() for line in fh if line.strip()]
            files = [os.path.join(images, n) for n in names]
            missing = [f for f in files if not os.path.isfile(f)]
            if missing:
                raise DatasetNotFoundError(
                    f"{len(missing)} images listed in {ann} are missing, e.g. {missing[:5]}. "
                    + _tinyimagenet_layout_hint(data_dir)
                )
        else:
            files = list_images(images) if os.path.isdir(images) else []
    else:
        raise ValueError(f"tinyimagenet splits are 'train' and 'test' (= the archive's 'val'), got {split!r}.")
    if not files:
        hint = _tinyimagenet_layout_hint(data_dir)
        raise DatasetNotFoundError(f"No Tiny ImageNet {split} images in {root!r}. " + hint)
    return files


def _validate_files(paths: list[str], expected_size: Optional[tuple[int, int]] = None) -> None:
    """Decodes every file (parallel ``tf.data``); raises :class:`BadImagesError` naming the bad ones."""

    def check(i, path):
        # Return the decoded shape: an output that does not depend on the decode lets tf.data prune it.
        return i, tf.shape(_decode_file(path))[:2]

    n = len(paths)
    ds = tf.data.Dataset.from_tensor_slices((tf.range(n, dtype=tf.int64), np.asarray(paths, dtype=object).astype(str)))
    ds = ds.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).ignore_errors()
    sizes = np.full((n, 2), -1, np.int64)
    for idx, hw in ds.batch(4096).as_numpy_iterator():
        sizes[idx] = hw
    reasons = {}
    for i in np.flatnonzero(sizes[:, 0] < 0):
        reasons[i] = _why_undecodable(paths[i])
    if expected_size is not None:
        for i in np.flatnonzero((sizes[:, 0] >= 0) & np.any(sizes != np.asarray(expected_size), axis=1)):
            reasons[i] = f"is {sizes[i, 0]}x{sizes[i, 1]}, expected {expected_size[0]}x{expected_size[1]}"
    if not reasons:
        return
    bad = sorted(reasons)
    lines = [f"  {paths[i]}: {reasons[i]}" for i in bad[:MAX_LISTED_BAD_FILES]]
    if len(bad) > MAX_LISTED_BAD_FILES:
        lines.append(f"  ... and {len(bad) - MAX_LISTED_BAD_FILES} more")
    raise BadImagesError(
        f"{len(bad)} of {n} image files cannot be used (fix or remove them; in Python, "
        f"image_dataset(..., validate=False) skips this check):\n" + "\n".join(lines)
    )


def _why_undecodable(path: str) -> str:
    try:
        _decode_file(tf.constant(path))
    except (tf.errors.OpError, ValueError) as e:
        msg = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", getattr(e, "message", str(e))).strip().splitlines()
        return "cannot be decoded as png/jpeg/bmp/gif" + (f" ({msg[0][:160]})" if msg and msg[0] else "")
    return "could not be read"  # pragma: no cover - transient read error
