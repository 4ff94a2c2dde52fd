"""The targeted attack of the paper's Figure 1: how many steps it takes to fool a discriminator.

The paper's Introduction pushes a fake ``x_f = G(z)`` until D scores it like a real, and a real until D
scores it like a fake (Eq. 1, ``|D(x_adv) - D(x_other)| <= 0.02``), with the targeted sign-gradient
steps of Eq. (7), and reports the mean number of steps K.  :func:`targeted_attack` is the attack on any
score function, :func:`make_score_fn` turns a Keras D into one, and :func:`attack_pairs` attacks paired
fakes and reals and returns the measures (K, the success rate, K per unit of initial score gap).  The
run-folder side (load a trained run, take its data, write the grid) is :mod:`dat_tf.train.attack`,
used by ``bin/attack.py`` and the study's Figure 1 section.

Example:

>>> import numpy as np, tensorflow as tf
>>> w = tf.constant([[1.0], [-1.0]])
>>> score = lambda x: tf.reshape(x @ w, [-1])            # s(x) = x0 - x1
>>> x = np.zeros((2, 2), np.float32)
>>> x_adv, iters, ok = targeted_attack(score, x, [0.01, 0.5], step=0.05, tol=0.02, clip=None)
>>> iters.numpy().tolist(), ok.numpy().tolist()           # each step moves s by 0.05 * ||w||_1 = 0.1
([0, 5], [True, True])

Reference: paper Introduction, Figure 1, Eq. (1), (6), (7); docs/design.md, "Figure 1: the targeted attack".
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from dat_tf.lazy import lazy_module

keras = lazy_module("keras")  # bin/attack.py reads SCORES without loading TensorFlow
tf = lazy_module("tensorflow")

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
    return _compiled_loop()(
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


_COMPILED = []


def _compiled_loop():
    """:func:`_attack_loop` as a ``tf.function`` (made on first use: TensorFlow loads lazily here)."""
    if not _COMPILED:
        _COMPILED.append(tf.function(_attack_loop, reduce_retracing=True))
    return _COMPILED[0]


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


def make_score_fn(discriminator, score: str = "logit"):
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


def steps_per_gap(iterations, gap0) -> float | None:
    """K normalised by the initial gap: the mean of ``K_i / gap0_i`` over the examples that took steps.

    It divides out how far apart D scored the pair before the attack, leaving
    the steps needed per unit of score gap (a failure counts ``max_iters``
    steps, so its ratio is a lower bound).  ``None`` if no example took a step.

    >>> steps_per_gap(np.array([0, 2, 6]), np.array([0.01, 0.1, 0.3]))
    20.0
    """
    iterations, gap0 = np.asarray(iterations, np.float64), np.asarray(gap0, np.float64)
    moved = iterations > 0
    return float(np.mean(iterations[moved] / gap0[moved])) if moved.any() else None


def steps_per_gap_successful(iterations, gap0, success) -> float | None:
    """The claim's measure (fixed before the third edition's runs): the mean of ``K_i / gap0_i`` over the examples
    that were fooled (``success``) after at least one step.  A failure has no K of its own (it was capped), so it is
    left out here and counted by the success rate instead.  ``None`` if no example qualifies.

    >>> steps_per_gap_successful(np.array([0, 2, 6, 200]), np.array([0.01, 0.1, 0.3, 0.5]), np.array([1, 1, 1, 0], bool))
    20.0
    """
    iterations, gap0 = np.asarray(iterations, np.float64), np.asarray(gap0, np.float64)
    use = (iterations > 0) & np.asarray(success, bool)
    return float(np.mean(iterations[use] / gap0[use])) if use.any() else None


def attack_pairs(score_fn, x_fake, x_real, step: float = DEFAULT_STEP, tol: float = DEFAULT_TOL,
                 max_iters: int = DEFAULT_MAX_ITERS, clip=(-1.0, 1.0), return_examples: bool = False,
                 per_example: bool = False) -> dict:
    """Attacks fake ``i`` towards real ``i``'s clean score and real ``i`` towards fake ``i``'s (Eq. 1).

    Args:
      score_fn: ``x -> [B]`` scores (e.g. :func:`make_score_fn`), examples scored independently.
      x_fake, x_real: ``[B, ...]`` paired batches.
      step, tol, max_iters, clip: :func:`targeted_attack`'s.
      return_examples: also ``"examples"``, an :class:`AttackExamples`.
      per_example: also ``"per_example"``: each pair's ``gap0`` and, per side, each example's ``k`` and
        ``success``.

    Returns:
      ``{"k_fake", "k_real"}`` (mean steps, failures counted ``max_iters``), ``"success_*"`` (the share fooled
      within ``tol``), ``"k_*_successful"`` (mean steps of the fooled; ``None`` if none), ``"score_*_mean"``,
      ``"initial_gap"`` (mean clean ``|s(x_f) - s(x_r)|``), ``"initially_within_tol"``, ``"rate_*"`` (score gap
      closed per step over the examples that moved), ``"k_per_gap_*"`` (:func:`steps_per_gap`) and
      ``"k_per_gap_successful_*"`` (:func:`steps_per_gap_successful`).
    """
    _check_attack_args(step, tol, max_iters, clip)
    x_fake, x_real = np.asarray(x_fake, np.float32), np.asarray(x_real, np.float32)
    if x_fake.shape != x_real.shape:
        raise ValueError(f"x_fake {x_fake.shape} and x_real {x_real.shape} must be paired batches of one shape.")
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
        "num": int(len(x_fake)),
        "step": float(step),
        "tol": float(tol),
        "max_iters": int(max_iters),
        "score_fake_mean": float(np.mean(s_fake)),
        "score_real_mean": float(np.mean(s_real)),
        "initial_gap": float(gap0.mean()),
        "initially_within_tol": float(np.mean(gap0 <= tol)),
        "rate_fake": rate(fake_adv, s_real, it_fake),
        "rate_real": rate(real_adv, s_fake, it_real),
        "k_per_gap_fake": steps_per_gap(it_fake, gap0),
        "k_per_gap_real": steps_per_gap(it_real, gap0),
        "k_per_gap_successful_fake": steps_per_gap_successful(it_fake, gap0, ok_fake),
        "k_per_gap_successful_real": steps_per_gap_successful(it_real, gap0, ok_real),
    }
    if per_example:
        out["per_example"] = {"gap0": [float(g) for g in gap0],
                              "fake": {"k": [int(k) for k in it_fake], "success": [bool(b) for b in ok_fake]},
                              "real": {"k": [int(k) for k in it_real], "success": [bool(b) for b in ok_real]}}
    if return_examples:
        out["examples"] = AttackExamples(
            x_fake, fake_adv.numpy(), x_real, real_adv.numpy(), it_fake, it_real, ok_fake, ok_real
        )
    return out
