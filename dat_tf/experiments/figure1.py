"""Figure 1's diagnostic: how many targeted attack steps it takes to fool D.

The paper's Introduction attacks a trained DCGAN discriminator: a fake
``x_f = G(z)`` is pushed until D scores it like a real ``x_r``, and a real
until D scores it like a fake (Eq. 1)::

    |D(x_f_adv) - D(x_r)| <= 0.02,      |D(x_r_adv) - D(x_f)| <= 0.02

with the targeted PGD of Eq. (7)::

    x <- clip(x - alpha * sign(grad_x |s(x) - s(x_other)|), -1, 1)

and reports the mean number of steps, ``K_fake`` and ``K_real`` (3.2 and 3.88
without DAT, 37.36 and 7.44 with it, on MNIST).  What the paper leaves open,
fixed here:

* **Score** ``s``.  The paper's DCGAN D ends in a sigmoid, so for the ``ns``
  and ``minimax`` families ``score="auto"`` attacks ``sigmoid(logit)`` and the
  0.02 tolerance is a probability gap; for ``wgan``/``hinge``/``lsgan`` (no
  probability) it attacks the raw logit.  ``"sigmoid"``/``"logit"`` force one.
* **Step** ``alpha``: not given in the paper.  The default is 1/255 of the
  ``[0, 1]`` pixel range (one grey level), i.e. ``2/255`` in the ``[-1, 1]``
  range the models use; ``step`` is always in the models' units.
* **Counting**: ``K`` of one example is the number of steps taken until the
  gap is ``<= tol`` (0 if it already is).  Examples not within ``tol`` after
  ``max_iters`` steps count as ``max_iters`` and are reported separately
  through the success rate; the paper does not say what it did with them.
* **Pairs**: fake ``i`` is attacked towards the clean score of real ``i`` and
  real ``i`` towards the clean score of fake ``i`` (targets fixed at the start).
* **Mode**: D runs in inference mode (``training=False``): BatchNorm uses its
  moving statistics (so examples do not interact) and neither they nor
  spectral-norm vectors change.

Example:

>>> import numpy as np, tensorflow as tf
>>> w = tf.constant([[1.0], [-1.0]])
>>> score = lambda x: tf.reshape(x @ w, [-1])            # s(x) = x0 - x1
>>> x = np.zeros((2, 2), np.float32)
>>> x_adv, iters, ok = targeted_attack(score, x, [0.01, 0.5], step=0.05, tol=0.02, clip=None)
>>> iters.numpy().tolist(), ok.numpy().tolist()           # each step moves s by 0.05 * ||w||_1 = 0.1
([0, 5], [True, True])

Reference: paper Introduction, Figure 1, Eq. (1), (6), (7).
"""

from __future__ import annotations

import dataclasses
import math
import os

import keras
import numpy as np
import tensorflow as tf

SCORES = ("auto", "sigmoid", "logit")
# Loss families whose D is a classifier with a sigmoid output in the paper's DCGAN.
SIGMOID_LOSSES = ("ns", "minimax")
DEFAULT_STEP = 2.0 / 255.0  # 1/255 of the [0, 1] pixel range, in the models' [-1, 1] units
DEFAULT_TOL = 0.02  # paper Eq. (1)
DEFAULT_MAX_ITERS = 200


# ----------------------------------------------------------------- the attack


def targeted_attack(score_fn, x, target_scores, step, tol=DEFAULT_TOL, max_iters=DEFAULT_MAX_ITERS, clip=(-1.0, 1.0)):
    """Iterated targeted sign-gradient attack (paper Eq. 7), per example.

    Each example ``i`` takes steps ``x_i <- clip(x_i - step * sign(grad |s(x_i) - t_i|))``
    until ``|s(x_i) - t_i| <= tol`` or ``max_iters`` steps were taken; an
    example that has succeeded stops moving.  One forward and backward pass of
    ``score_fn`` per iteration over the whole batch, in a ``tf.while_loop``.

    Args:
      score_fn: ``x [B, ...] -> scores [B]`` (or ``[B, 1]``); must treat
        examples independently (e.g. D in inference mode).
      x: ``[B, ...]`` starting points.
      target_scores: ``[B]`` target score of each example.
      step: step size ``alpha`` (> 0), in the units of ``x``.
      tol: success threshold on ``|s(x) - t|`` (>= 0).
      max_iters: cap on the number of steps (integer >= 0).
      clip: ``(low, high)`` box the iterates are projected on, or ``None``.

    Returns:
      ``(x_adv, iterations, success)``: ``x_adv`` like ``x``; ``iterations``
      int32 ``[B]`` (steps taken; ``max_iters`` for the failures); ``success``
      bool ``[B]`` (``|s(x_adv) - t| <= tol``).
    """
    _check_attack_args(step, tol, max_iters, clip)
    x = tf.convert_to_tensor(x, tf.float32)
    t = tf.reshape(tf.convert_to_tensor(target_scores, tf.float32), [-1])
    if x.shape.rank is None or x.shape.rank < 1:
        raise ValueError(f"x must be a batch [B, ...], got shape {x.shape}.")
    if t.shape[0] is not None and x.shape[0] is not None and t.shape[0] != x.shape[0]:
        raise ValueError(f"target_scores has {t.shape[0]} entries but x holds {x.shape[0]} examples.")
    low, high = (-math.inf, math.inf) if clip is None else clip
    return _attack_loop(
        score_fn, x, t, tf.constant(step, tf.float32), tf.constant(tol, tf.float32),
        tf.constant(max_iters, tf.int32), tf.constant(low, tf.float32), tf.constant(high, tf.float32),
    )


def _check_attack_args(step, tol, max_iters, clip):
    if not _finite_number(step) or step <= 0:
        raise ValueError(f"step must be a finite number > 0, got {step!r}.")
    if not _finite_number(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}.")
    if isinstance(max_iters, bool) or not isinstance(max_iters, (int, np.integer)) or max_iters < 0:
        raise ValueError(f"max_iters must be an integer >= 0, got {max_iters!r}.")
    if clip is not None:
        if len(clip) != 2 or not all(isinstance(c, (int, float)) for c in clip) or not clip[0] < clip[1]:
            raise ValueError(f"clip must be None or (low, high) with low < high, got {clip!r}.")


def _finite_number(v):
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and math.isfinite(v)


@tf.function(reduce_retracing=True)
def _attack_loop(score_fn, x, t, step, tol, max_iters, low, high):
    def score_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = tf.reshape(tf.cast(score_fn(x), tf.float32), [-1])
            # Examples are independent, so the gradient of the sum is each
            # example's gradient of its own |s_i - t_i|.
            objective = tf.reduce_sum(tf.abs(s - t))
        return s, tape.gradient(objective, x)

    def not_done(s):
        return tf.abs(s - t) > tol

    def cond(i, x, iters, s, g):
        return tf.logical_and(i < max_iters, tf.reduce_any(not_done(s)))

    def body(i, x, iters, s, g):
        active = not_done(s)
        moved = tf.clip_by_value(x - step * tf.sign(g), low, high)
        mask = tf.reshape(active, tf.concat([tf.shape(active), tf.ones([tf.rank(x) - 1], tf.int32)], 0))
        x = tf.where(mask, moved, x)
        iters = iters + tf.cast(active, tf.int32)
        s, g = score_and_grad(x)
        return i + 1, x, iters, s, g

    s0, g0 = score_and_grad(x)
    iters0 = tf.zeros(tf.shape(t), tf.int32)
    _, x_adv, iters, s, _ = tf.while_loop(cond, body, (tf.constant(0), x, iters0, s0, g0))
    return x_adv, iters, tf.logical_not(not_done(s))


# ------------------------------------------------------------- D as a score


def resolve_score(score: str, loss_name: str) -> str:
    """``"sigmoid"`` or ``"logit"`` for ``score`` (one of :data:`SCORES`) and a loss family."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {list(SCORES)}, got {score!r}.")
    if score == "auto":
        return "sigmoid" if loss_name in SIGMOID_LOSSES else "logit"
    return score


def make_score_fn(discriminator: keras.Model, score: str = "logit"):
    """``x -> [B]`` scores of ``discriminator`` in inference mode (its state is never changed).

    Args:
      score: ``"logit"`` (D's raw output) or ``"sigmoid"`` (its probability).
    """
    if score not in ("sigmoid", "logit"):
        raise ValueError(f"score must be 'sigmoid' or 'logit' here (resolve 'auto' first), got {score!r}.")

    def score_fn(x):
        out = tf.cast(discriminator(x, training=False), tf.float32)
        out = tf.reshape(out, [tf.shape(out)[0]])
        return tf.sigmoid(out) if score == "sigmoid" else out

    return score_fn


# ------------------------------------------------------------ a trained run


@dataclasses.dataclass
class AttackExamples:
    """The images and per-example counts behind one :func:`attack_run` summary."""

    fake: np.ndarray
    fake_adv: np.ndarray
    real: np.ndarray
    real_adv: np.ndarray
    iterations_fake: np.ndarray
    iterations_real: np.ndarray
    success_fake: np.ndarray
    success_real: np.ndarray


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
    """Figure 1 for a trained run: attack ``num`` fakes and ``num`` reals.

    Fakes are ``G(z)`` (inference mode, latents from ``seed``), reals the first
    ``num`` examples of the run's data pipeline shuffled with ``seed`` (image
    datasets only; see :func:`real_examples`, which sets TensorFlow's global
    seed).  Fake ``i`` and real ``i`` are a pair: each is attacked
    towards the other's clean score.  ``checkpoint`` picks the training
    point (see :func:`load_run`; default the final model).

    Returns:
      ``{"k_fake", "k_real", "success_fake", "success_real", "num", "step",
      "tol", "score", "max_iters", "seed", "loss", "step_of_model", "dataset",
      "resolution", "regularizer", "train_seed",
      "k_fake_successful", "k_real_successful", "score_fake_mean",
      "score_real_mean", "initial_gap", "initially_within_tol", "rate_fake",
      "rate_real"}``: ``k_*``
      the mean iteration count over all examples (failures count
      ``max_iters``), ``success_*`` the fraction within ``tol``,
      ``k_*_successful`` the mean over successful examples only (``None`` if
      none), ``score`` the resolved score, ``step_of_model`` the generator
      step of the attacked model, ``dataset`` to ``train_seed`` the run's
      config; ``score_*_mean`` the mean clean scores,
      ``initial_gap`` the mean clean ``|s(x_f) - s(x_r)|`` of the pairs and
      ``initially_within_tol`` the fraction of pairs already within ``tol``
      (attacked in 0 steps, both ways); ``rate_*`` the mean score gap
      closed per step, ``(|gap before| - |gap after|) / K``, over the examples
      that took steps (``None`` if none; not in the paper: it separates D's
      sensitivity from how far apart it scores the pair).  With
      ``return_examples`` also ``"examples"``: an :class:`AttackExamples`.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be an integer >= 1, got {num!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
    _check_attack_args(step, tol, max_iters, clip)
    gan, cfg = load_run(run_dir, checkpoint)
    resolved = resolve_score(score, gan.gan_loss.name)
    if len(gan.generator.output_shape) != 4:
        raise ValueError(
            f"the attack diagnostic is for image data; run {run_dir!r} (dataset {cfg.dataset!r}) "
            f"generates shape {gan.generator.output_shape[1:]}."
        )
    x_fake = gan.sample(num, seed=seed).astype(np.float32)
    x_real = real_examples(cfg, num, seed)
    score_fn = make_score_fn(gan.discriminator, resolved)
    s_fake, s_real = score_fn(x_fake), score_fn(x_real)
    gap0 = np.abs(s_fake.numpy() - s_real.numpy())
    fake_adv, it_fake, ok_fake = targeted_attack(score_fn, x_fake, s_real, step, tol, max_iters, clip)
    real_adv, it_real, ok_real = targeted_attack(score_fn, x_real, s_fake, step, tol, max_iters, clip)
    it_fake, it_real, ok_fake, ok_real = (v.numpy() for v in (it_fake, it_real, ok_fake, ok_real))

    def successful_mean(iters, ok):
        return float(iters[ok].mean()) if ok.any() else None

    def rate(x_adv, targets, iters):
        # Score gap closed per step, over the examples that took steps.
        closed = gap0 - np.abs(score_fn(x_adv).numpy() - targets.numpy())
        moved = iters > 0
        return float(np.mean(closed[moved] / iters[moved])) if moved.any() else None

    out = {
        "k_fake": float(it_fake.mean()),
        "k_real": float(it_real.mean()),
        "success_fake": float(ok_fake.mean()),
        "success_real": float(ok_real.mean()),
        "k_fake_successful": successful_mean(it_fake, ok_fake),
        "k_real_successful": successful_mean(it_real, ok_real),
        "num": int(num),
        "step": float(step),
        "tol": float(tol),
        "max_iters": int(max_iters),
        "score": resolved,
        "loss": gan.gan_loss.name,
        "seed": int(seed),
        "step_of_model": int(keras.ops.convert_to_numpy(gan.g_steps)),
        "dataset": cfg.dataset,
        "resolution": cfg.image_resolution(),
        "regularizer": cfg.regularizer,
        "train_seed": cfg.seed,
        "score_fake_mean": float(np.mean(s_fake)),
        "score_real_mean": float(np.mean(s_real)),
        "initial_gap": float(gap0.mean()),
        "initially_within_tol": float(np.mean(gap0 <= tol)),
        "rate_fake": rate(fake_adv, s_real, it_fake),
        "rate_real": rate(real_adv, s_fake, it_real),
    }
    if return_examples:
        out["examples"] = AttackExamples(
            x_fake, fake_adv.numpy(), x_real, real_adv.numpy(), it_fake, it_real, ok_fake, ok_real
        )
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
