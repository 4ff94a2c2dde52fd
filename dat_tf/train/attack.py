"""The Figure 1 attack on a trained run folder: ``bin/attack.py`` and the study's Figure 1 section.

:func:`attack_line` loads a run (:func:`load_run`), attacks ``num`` of its fakes and as many of the reals it
trained on (:func:`real_examples`) with :func:`dat_tf.metrics.attack.attack_pairs`, and can write the
paper's Figure 1 grid (clean and adversarial fakes and reals) as a PNG.

Example (a trained digits run)::

    line = attack_line("runs/digits", num=64, step=2 / 255)
    print(line["k_fake"], line["success_fake"], line["k_per_gap_successful_fake"])
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from dat_tf.metrics.attack import (DEFAULT_MAX_ITERS, DEFAULT_STEP, DEFAULT_TOL, AttackExamples, _check_attack_args,
                                   attack_pairs, make_score_fn, resolve_score)


def load_run(run_dir: str, checkpoint=None):
    """``(gan, cfg)`` of a run directory written by :func:`dat_tf.train.loop.train`.

    Args:
      checkpoint: ``None``: the newest checkpoint (the final model; ``gan.keras``
        for a run without checkpoints); an integer: the checkpoint of that
        generator step in ``run_dir/checkpoints``; a string: a checkpoint path
        (prefix).  See :class:`dat_tf.train.run_dir.RunDir`.
    """
    from dat_tf.train.run_dir import RunDir

    run = RunDir(run_dir)
    gan, _ = run.load_gan(checkpoint)
    return gan, run.config


def real_examples(cfg, num: int, seed: int) -> np.ndarray:
    """The first ``num`` examples of the run's training pipeline, shuffled with ``seed``.

    ``tf.data`` shuffles depend on TensorFlow's global seed as well as their
    own, so this sets the global seed to ``seed`` (``tf.random.set_seed``),
    as :func:`dat_tf.train.loop.build_gan` does with the run's seed before the
    run builds its pipeline: with ``seed == cfg.seed`` these are exactly the
    first ``num`` examples the run trained on.
    """
    from dat_tf.train.loop import build_dataset

    tf.random.set_seed(seed)
    ds = build_dataset(dataclasses.replace(cfg, seed=seed)).unbatch().take(num)
    x = [np.asarray(e) for e in ds.as_numpy_iterator()]
    if len(x) < num:
        raise ValueError(f"the dataset of {cfg.run_dir!r} gave only {len(x)} examples, fewer than num={num}.")
    return np.stack(x).astype(np.float32)


def attack_run(
    run_dir: str,
    num: int = 64,
    seed: int = 0,
    step: float = DEFAULT_STEP,
    tol: float = DEFAULT_TOL,
    max_iters: int = DEFAULT_MAX_ITERS,
    score: str = "auto",
    clip=(-1.0, 1.0),
    checkpoint=None,
    return_examples: bool = False,
):
    """Figure 1 for a trained run: loads it (see :func:`load_run`) and calls :func:`attack_model`.

    ``checkpoint`` picks the training point (default the final model); the
    other arguments are :func:`attack_model`'s.
    """
    _check_run_attack_args(num, seed, step, tol, max_iters, clip)
    gan, cfg = load_run(run_dir, checkpoint)
    return attack_model(gan, cfg, num=num, seed=seed, step=step, tol=tol, max_iters=max_iters, score=score,
                        clip=clip, return_examples=return_examples)


def _check_run_attack_args(num, seed, step, tol, max_iters, clip):
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be an integer >= 1, got {num!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
    _check_attack_args(step, tol, max_iters, clip)


def attack_model(gan, cfg, num: int = 64, seed: int = 0, step: float = DEFAULT_STEP, tol: float = DEFAULT_TOL,
                 max_iters: int = DEFAULT_MAX_ITERS, score: str = "auto", clip=(-1.0, 1.0),
                 return_examples: bool = False, per_example: bool = False):
    """Figure 1 for a loaded model: attack ``num`` fakes and ``num`` reals.

    Fakes are ``G(z)`` (inference mode, latents from ``seed``), reals the first
    ``num`` examples of the run's data pipeline shuffled with ``seed`` (image
    datasets only; see :func:`real_examples`, which sets TensorFlow's global
    seed).  Fake ``i`` and real ``i`` are a pair: each is attacked
    towards the other's clean score.

    Returns:
      :func:`dat_tf.metrics.attack.attack_pairs`' measures, plus ``score`` (the resolved score), ``loss``,
      ``seed``, ``step_of_model`` (the generator step of the attacked model) and the run's ``dataset``,
      ``resolution``, ``regularizer``, ``train_seed`` and ``d_batch_norm``.
    """
    _check_run_attack_args(num, seed, step, tol, max_iters, clip)
    resolved = resolve_score(score, gan.gan_loss.name)
    if len(gan.generator.output_shape) != 4:
        raise ValueError(
            f"the attack diagnostic is for image data; run {cfg.run_dir!r} (dataset {cfg.dataset!r}) "
            f"generates shape {gan.generator.output_shape[1:]}."
        )
    x_fake = gan.sample(num, seed=seed).astype(np.float32)
    x_real = real_examples(cfg, num, seed)
    out = attack_pairs(make_score_fn(gan.discriminator, resolved), x_fake, x_real, step, tol, max_iters, clip,
                       return_examples=return_examples, per_example=per_example)
    out.update(score=resolved, loss=gan.gan_loss.name, seed=int(seed),
               step_of_model=int(keras.ops.convert_to_numpy(gan.g_steps)), dataset=cfg.dataset,
               resolution=cfg.image_resolution(), regularizer=cfg.regularizer, train_seed=cfg.seed,
               d_batch_norm=bool(cfg.d_batch_norm))
    return out


def figure_grid(examples: AttackExamples, columns: int = 16, scale: int = 4) -> np.ndarray:
    """Figure 1's layout as a uint8 ``[H, W, C]`` image.

    Rows: clean fakes, their adversarial versions, clean reals, their
    adversarial versions; the first ``columns`` pairs; each pixel repeated
    ``scale`` times per side.
    """
    from dat_tf.viz import image_grid

    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be an integer >= 1, got {columns!r}.")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}.")
    n = min(columns, len(examples.fake))
    rows = [examples.fake[:n], examples.fake_adv[:n], examples.real[:n], examples.real_adv[:n]]
    grid = image_grid(np.concatenate(rows, axis=0), columns=n)
    return np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)


def write_png(image: np.ndarray, path: str):
    """Writes a uint8 ``[H, W, C]`` image as PNG (parent folders created)."""
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(path, tf.image.encode_png(tf.convert_to_tensor(image, tf.uint8)))


def attack_line(run_dir: str, checkpoint=None, png: str | None = None, png_columns: int = 16, png_scale: int = 4,
                **attack_kwargs) -> dict:
    """One line of ``results.jsonl``: :func:`attack_run`'s summary plus ``run_dir``, and the PNG if asked.

    What ``bin/attack.py`` prints.  With ``png`` (a path) the Figure 1 grid of
    the first ``png_columns`` pairs is written there and the line gets ``"png"``.
    ``attack_kwargs`` go to :func:`attack_run` (``num``, ``seed``, ``step``, ...).
    """
    result = attack_run(run_dir, checkpoint=checkpoint, return_examples=bool(png), **attack_kwargs)
    examples = result.pop("examples", None)
    result["run_dir"] = run_dir
    if examples is not None:
        write_png(figure_grid(examples, columns=png_columns, scale=png_scale), png)
        result["png"] = png
    return result
