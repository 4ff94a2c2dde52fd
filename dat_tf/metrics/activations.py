"""Runs a classifier over a sample source batch by batch.

A *sample source* is one of

* a numpy array (or tensor) of images ``[N, H, W, C]`` — sliced into batches;
* a ``tf.data.Dataset`` of images, batched or not, or of ``(image, label)``
  tuples (the first component is used);
* a callable ``n -> images [n, H, W, C]`` — a sampler, e.g.
  :func:`generator_sampler`; ``num_samples`` is then required.

Only one batch of images exists at a time; what is kept is the classifier's
output (features and logits, small next to the images).
"""

from __future__ import annotations

from typing import Callable, Iterator

import keras
import numpy as np
import tensorflow as tf

from dat_tf.latents import latent_dim_of, numpy_stream

DEFAULT_BATCH_SIZE = 500


def _check_count(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")


def iterate_batches(source, num_samples: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator:
    """Yields image batches (``<= batch_size`` each) from ``source``, ``num_samples`` images in all.

    For arrays and datasets ``num_samples=None`` means all of them; asking for
    more than a finite source holds raises ``ValueError``.
    """
    _check_count("batch_size", batch_size)
    _check_count("num_samples", num_samples, allow_none=True)
    if isinstance(source, keras.Model):
        raise TypeError("a Keras model is not a sample source; wrap a generator with generator_sampler(model, seed).")
    if isinstance(source, tf.data.Dataset):
        yield from _dataset_batches(source, num_samples, batch_size)
    elif callable(source) and not isinstance(source, (np.ndarray, tf.Tensor)):
        if num_samples is None:
            raise ValueError("a sampler source (callable n -> images) needs num_samples.")
        done = 0
        while done < num_samples:
            n = min(batch_size, num_samples - done)
            images = source(n)
            if int(images.shape[0]) != n:
                raise ValueError(f"the sampler returned {images.shape[0]} images for n={n}.")
            done += n
            yield images
    else:
        arr = source if isinstance(source, tf.Tensor) else np.asarray(source)
        total = int(arr.shape[0])
        n = total if num_samples is None else num_samples
        if n > total:
            raise ValueError(f"num_samples={n} but the array holds only {total} images.")
        for start in range(0, n, batch_size):
            yield arr[start : min(start + batch_size, n)]


def _dataset_batches(ds, num_samples, batch_size):
    spec = ds.element_spec
    if isinstance(spec, (tuple, list)):
        ds = ds.map(lambda *xs: xs[0])
        spec = spec[0]
    elif isinstance(spec, dict):
        key = "image" if "image" in spec else sorted(spec)[0]
        ds = ds.map(lambda d: d[key])
        spec = spec[key]
    if spec.shape.rank == 3:  # single images
        ds = ds.batch(batch_size)
    done = 0
    for batch in ds:
        # Re-cut whatever batch size the dataset has into <= batch_size pieces.
        for start in range(0, int(batch.shape[0]), batch_size):
            piece = batch[start : start + batch_size]
            if num_samples is not None and done + int(piece.shape[0]) > num_samples:
                piece = piece[: num_samples - done]
            if int(piece.shape[0]):
                done += int(piece.shape[0])
                yield piece
            if num_samples is not None and done >= num_samples:
                return
    if num_samples is not None and done < num_samples:
        raise ValueError(f"num_samples={num_samples} but the dataset ended after {done} images.")


def compute_activations(
    source, classifier, num_samples: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """``(features [N, D], logits [N, K])`` as float32 numpy, computed batch by batch."""
    features, logits = [], []
    for images in iterate_batches(source, num_samples, batch_size):
        f, l = classifier(images)
        features.append(f.numpy())
        logits.append(l.numpy())
    if not features:
        raise ValueError("the source yielded no images.")
    return np.concatenate(features), np.concatenate(logits)


def generator_sampler(generator: keras.Model, seed: int = 0, latent_dim: int | None = None) -> Callable:
    """``n -> G(z)`` with ``z ~ N(0, I)`` from :func:`dat_tf.latents.numpy_stream` (inference mode).

    The latents are one sequential stream per seed, so the images drawn do not
    depend on how the draws are split into batches.
    """
    draw = numpy_stream(seed, latent_dim or latent_dim_of(generator))
    forward = tf.function(lambda z: generator(z, training=False), reduce_retracing=True)

    def sample(n):
        return forward(tf.constant(draw(n)))

    return sample
