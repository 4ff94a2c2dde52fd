"""Why a dataset cannot be used: the errors the data loaders raise (no TensorFlow import).

:class:`DatasetUnavailableError` is the common base, so that a caller (e.g.
``bin/train.py``) can tell "the data is not there or not readable" from a bug
with one ``except``; the subclasses keep the built-in types they replace
(``FileNotFoundError``, ``ValueError``) so older ``except`` clauses still match.

Example:

>>> try:  # doctest: +SKIP
...     ds = get_dataset("cifar10").load("train", 64, data_dir="/nowhere")
... except DatasetUnavailableError as e:
...     print(e)  # says what is missing and how to prepare it
"""

from __future__ import annotations

__all__ = ["BadImagesError", "DatasetNotFoundError", "DatasetUnavailableError"]


class DatasetUnavailableError(Exception):
    """The dataset is not prepared where we looked, or its files cannot be read."""


class DatasetNotFoundError(DatasetUnavailableError, FileNotFoundError):
    """The dataset is not prepared where we looked, and we were not asked to download it."""


class BadImagesError(DatasetUnavailableError, ValueError):
    """Image files of a folder dataset cannot be decoded or have the wrong size (the message lists them)."""
