"""The latent draws ``z ~ N(0, I)`` of the package, in one place.

Three kinds, kept apart on purpose: each gives other numbers for the same
seed, and each is pinned by runs, figures or tests.

* :func:`stateless` -- ``tf.random.stateless_normal`` (Philox): a pure
  function of ``(seed, n)``, the same on every device and replica count.
  Training uses this kind (``GAN``'s per-step latents, seeded by the
  generator step) and so does the TensorBoard logger's fixed batch.
* :func:`tf_stream` -- one ``tf.random.Generator`` per seed, drawn from batch
  after batch: :meth:`dat_tf.gan.GAN.sample` (the Figure 1 attack and the
  Figure 3 samples use it).
* :func:`numpy_stream` -- one ``numpy.random.default_rng`` per seed:
  ``bin/sample.py`` and the metrics' generator sampler
  (:func:`dat_tf.metrics.activations.generator_sampler`).  Drawing ``n`` at
  once or in batches that add up to ``n`` gives the same latents.

Example:

>>> import numpy as np
>>> draw = numpy_stream(0, latent_dim=4)
>>> z = np.concatenate([draw(3), draw(2)])
>>> bool(np.array_equal(z, numpy_stream(0, 4)(5)))
True
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dat_tf.replicas import RNG_ALG


def _check(name, value, low=None):
    allowed = "an integer" if low is None else f"an integer >= {low}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if low is not None and value < low:
            raise ValueError(f"{name} must be {allowed}, got {value!r}.")
    elif isinstance(value, (bool, float, str)) or value is None:
        raise ValueError(f"{name} must be {allowed}, got {value!r}.")
    # anything else (a tensor inside tf.function) is left to TensorFlow


def stateless(seed, n, latent_dim) -> tf.Tensor:
    """``[n, latent_dim]`` float32 latents, a pure function of the 2-element ``seed``.

    Args:
      seed: shape ``[2]`` integers (list or tensor), e.g. ``[1234, 0]``.
      n: number of latents.
      latent_dim: size of each.
    """
    _check("n", n, 0)
    _check("latent_dim", latent_dim, 1)
    return tf.random.stateless_normal([n, latent_dim], seed=seed, alg=RNG_ALG)


def tf_stream(seed: int, latent_dim: int):
    """``draw(n) -> [n, latent_dim]`` float32 tensors from ``tf.random.Generator.from_seed(seed)``.

    Successive calls continue the generator's stream, so the latents of a
    call depend on the sizes of the calls before it.
    """
    _check("seed", seed)
    _check("latent_dim", latent_dim, 1)
    gen = tf.random.Generator.from_seed(seed)

    def draw(n):
        _check("n", n, 0)
        return gen.normal([n, latent_dim])

    return draw


def numpy_stream(seed: int, latent_dim: int):
    """``draw(n) -> [n, latent_dim]`` float32 numpy latents from ``numpy.random.default_rng(seed)``.

    One sequential stream: how the draws are split into calls does not change
    the latents (standard normals are drawn in float64, then cast).
    """
    _check("seed", seed, 0)
    _check("latent_dim", latent_dim, 1)
    rng = np.random.default_rng(seed)

    def draw(n):
        _check("n", n, 0)
        return rng.standard_normal((n, latent_dim)).astype(np.float32)

    return draw


def latent_dim_of(generator) -> int:
    """The latent size of a Keras generator, read from its input shape ``[None, latent_dim]``.

    A subclassed generator has no symbolic input: its shape is the one it was built with
    (``get_build_config``), as :class:`dat_tf.gan.GAN` builds it.
    """
    inputs = getattr(generator, "inputs", None)
    shape = tuple(inputs[0].shape) if inputs else None
    if shape is None:
        shape = (generator.get_build_config() or {}).get("input_shape")
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else None
    if not shape or len(shape) != 2 or shape[1] is None:
        raise ValueError(f"cannot read the latent size from the generator's input shape {shape}; pass latent_dim=.")
    return int(shape[1])
