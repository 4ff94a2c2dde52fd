"""Discriminator regularizers: DAT and every method the paper compares it with.

A regularizer is a strategy the GAN model calls in each discriminator step, in
two phases:

1. :meth:`Regularizer.perturb` runs *outside* the tape over D's weights. It may
   replace the inputs D is trained on (DAT, DATT, ASGAN) or prepare adversarial
   copies for a penalty (AR, RFM).  Its input gradients are computed without
   changing D's state and give D's weights no gradient.
2. :meth:`Regularizer.discriminator_loss` runs *inside* that tape and returns
   D's loss plus the penalty.

Regularizers are chosen by name from :data:`REGULARIZERS` through
:func:`get_regularizer`; the model never branches on the name.

All batch statistics (DAT's targets, its ``reference`` variant's batch means)
are global across ``tf.distribute`` replicas, and all randomness (GP's
interpolation coefficients) is drawn from the seed the model passes in, for
the global batch, so results do not depend on the replica count.

Reference: paper sections 4-5; ``../shared/DESIGN.md`` sections 2-3.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from dat_tf import replicas as distributed
from dat_tf.replicas import RNG_ALG
from dat_tf.critic import Critic, per_example_norm
from dat_tf.losses import GANLoss


@dataclasses.dataclass
class Perturbation:
    """What :meth:`Regularizer.perturb` hands to the loss phase.

    Attributes:
      real, fake: the batches D's loss is computed on.
      real_adv, fake_adv: adversarial copies used only by penalties (or None).
      norm: mean per-example L2 norm of the perturbation, reals and fakes
        together, global over replicas (0 for regularizers that do not perturb).
    """

    real: tf.Tensor
    fake: tf.Tensor
    real_adv: tf.Tensor | None = None
    fake_adv: tf.Tensor | None = None
    norm: tf.Tensor | float = 0.0


@dataclasses.dataclass
class DiscriminatorTerms:
    """What :meth:`Regularizer.discriminator_loss` returns.

    ``loss`` is the local-batch mean D minimises (before division by the
    replica count), ``penalty`` the regularizer's share of it, and the logits
    those D scored for the adversarial loss (for logging).
    """

    loss: tf.Tensor
    penalty: tf.Tensor
    real_logits: tf.Tensor
    fake_logits: tf.Tensor


def _check_nonnegative(name, value, cls):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{cls}: {name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def _check_choice(name, value, allowed, cls):
    if value not in allowed:
        raise ValueError(f"{cls}: {name} must be one of {list(allowed)}, got {value!r}.")
    return value


class Regularizer:
    """Base class: the plain GAN loss, no perturbation, no penalty."""

    name = "none"

    def perturb(self, critic: Critic, loss: GANLoss, x_real, x_fake, seed) -> Perturbation:
        del critic, loss, seed
        return Perturbation(real=x_real, fake=x_fake)

    def penalty(self, critic: Critic, loss: GANLoss, pert: Perturbation, x_real, x_fake, seed):
        del critic, loss, pert, x_real, x_fake, seed
        return tf.constant(0.0)

    def discriminator_loss(self, critic, loss, pert: Perturbation, x_real, x_fake, seed) -> DiscriminatorTerms:
        real_logits = critic.score(pert.real)
        fake_logits = critic.score(pert.fake)
        penalty = tf.cast(self.penalty(critic, loss, pert, x_real, x_fake, seed), tf.float32)
        total = loss.discriminator_loss(real_logits, fake_logits) + penalty
        return DiscriminatorTerms(total, penalty, real_logits, fake_logits)

    def get_config(self) -> dict:
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# -----------------------------------------------------------------------------
# Gradient penalties
# -----------------------------------------------------------------------------


def interpolate(x_real, x_fake, alpha):
    """``alpha * x_real + (1 - alpha) * x_fake`` with one alpha per example."""
    shape = [-1] + [1] * (len(x_real.shape) - 1)
    alpha = tf.reshape(tf.cast(alpha, x_real.dtype), shape)
    return alpha * x_real + (1.0 - alpha) * x_fake


def one_centered_penalty(grad_norm):
    """WGAN-GP: ``E[(||g|| - 1)^2]``."""
    return tf.reduce_mean(tf.square(grad_norm - 1.0))


def one_sided_penalty(grad_norm):
    """WGAN-LP: ``E[max(0, ||g|| - 1)^2]``."""
    return tf.reduce_mean(tf.square(tf.nn.relu(grad_norm - 1.0)))


def zero_centered_penalty(grad_norm):
    """0-GP / R1: ``E[||g||^2]``."""
    return tf.reduce_mean(tf.square(grad_norm))


class GradientPenalty(Regularizer):
    """A penalty on the norm of D's input gradient.

    Args:
      weight: lambda, >= 0.
      where: ``"interpolates"`` (x_hat on real-fake lines, alpha ~ U[0, 1] per
        example, as WGAN-GP) or ``"real"`` (R1).
      kind: ``"one_centered"`` (gp), ``"one_sided"`` (lp) or
        ``"zero_centered"`` (zero_gp, r1).

    Reference: Gulrajani et al. 2017 (GP); Petzka et al. 2018 (LP);
    Thanh-Tung et al. 2019 and Mescheder et al. 2018 (0-GP, R1).
    """

    _KINDS = {
        "one_centered": one_centered_penalty,
        "one_sided": one_sided_penalty,
        "zero_centered": zero_centered_penalty,
    }

    def __init__(self, weight: float = 10.0, where: str = "interpolates", kind: str = "one_centered"):
        cls = type(self).__name__
        self.weight = _check_nonnegative("weight", weight, cls)
        self.where = _check_choice("where", where, ("interpolates", "real"), cls)
        self.kind = _check_choice("kind", kind, tuple(self._KINDS), cls)

    def points(self, x_real, x_fake, seed):
        if self.where == "real":
            return tf.convert_to_tensor(x_real)

        def draw(n):
            return tf.random.stateless_uniform([n], seed=seed, alg=RNG_ALG)

        alpha = distributed.replica_slice_of_global(draw, distributed.batch_size(x_real))
        return interpolate(x_real, x_fake, alpha)

    def penalty(self, critic, loss, pert, x_real, x_fake, seed):
        x_hat = self.points(x_real, x_fake, seed)
        with tf.GradientTape() as tape:
            tape.watch(x_hat)
            logits = critic.score(x_hat, stateless=True)
            total = tf.reduce_sum(logits)
        grad_norm = per_example_norm(tape.gradient(total, x_hat))
        return self.weight * self._KINDS[self.kind](grad_norm)

    def get_config(self):
        return {"weight": self.weight, "where": self.where, "kind": self.kind}


# -----------------------------------------------------------------------------
# Adversarial-example methods
# -----------------------------------------------------------------------------


def _d_loss_gradients(critic, loss, x_real, x_fake):
    """Per-example gradients of D's loss ``-g1(D(x_r))`` and ``-g2(D(x_f))``."""
    return critic.pair_input_gradients(
        lambda lr, lf: -tf.reduce_sum(loss.g1(lr)) - tf.reduce_sum(loss.g2(lf)), x_real, x_fake
    )


def _mean_perturbation_norm(*deltas):
    norms = tf.concat([per_example_norm(d) for d in deltas], axis=0)
    return distributed.global_mean(norms)


def _unit(g):
    shape = [-1] + [1] * (len(g.shape) - 1)
    return g / tf.reshape(per_example_norm(g), shape)


class RobustRegularizer(Regularizer):
    """AR and RFM: consistency of D between clean and adversarial inputs.

    ``x_adv = x + epsilon * g / ||g||`` with ``g`` the per-example gradient of
    D's loss (the direction that fools D most), for reals and fakes.  The
    penalty is ``weight * (mean ||h(x_r_adv) - h(x_r)|| + mean ||h(x_f_adv) -
    h(x_f)||)`` with ``h`` D's penultimate features (``target="features"``,
    RFM) or its logit (``target="logits"``, AR).  D's adversarial loss is on
    the clean inputs.

    Args:
      weight: lambda (10 in the authors' code).
      epsilon: L2 radius of the attack (1e-4 in the authors' code).
      target: ``"features"`` or ``"logits"``.

    Reference: Zhou et al. 2019, "Don't let your discriminator be fooled".
    """

    def __init__(self, weight: float = 10.0, epsilon: float = 1e-4, target: str = "features"):
        cls = type(self).__name__
        self.weight = _check_nonnegative("weight", weight, cls)
        self.epsilon = _check_nonnegative("epsilon", epsilon, cls)
        self.target = _check_choice("target", target, ("features", "logits"), cls)

    def perturb(self, critic, loss, x_real, x_fake, seed):
        grad_r, grad_f = _d_loss_gradients(critic, loss, x_real, x_fake)
        delta_r = self.epsilon * _unit(grad_r)
        delta_f = self.epsilon * _unit(grad_f)
        return Perturbation(
            real=x_real,
            fake=x_fake,
            real_adv=x_real + delta_r,
            fake_adv=x_fake + delta_f,
            norm=_mean_perturbation_norm(delta_r, delta_f),
        )

    def _embed(self, critic, x):
        if self.target == "logits":
            return critic.score(x, stateless=True)[:, None]
        return critic.features_and_scores(x)[0]

    def penalty(self, critic, loss, pert, x_real, x_fake, seed):
        def gap(clean, adv):
            return tf.reduce_mean(per_example_norm(self._embed(critic, adv) - self._embed(critic, clean)))

        return self.weight * (gap(pert.real, pert.real_adv) + gap(pert.fake, pert.fake_adv))

    def get_config(self):
        return {"weight": self.weight, "epsilon": self.epsilon, "target": self.target}


class FGSM(Regularizer):
    """ASGAN: D trained on FGSM examples of reals and fakes.

    ``x_adv = x - epsilon * sign(grad_x V_D)`` with ``V_D`` the value D
    maximises, so the step lowers D's objective (an untargeted attack, paper
    Eq. 6).  D's loss is computed on the adversarial reals and fakes.

    Args:
      epsilon: L-inf step, 1/255 by default (the paper's setting for [18]).

    Reference: [18] in the paper, section 5.4.
    """

    def __init__(self, epsilon: float = 1.0 / 255.0):
        self.epsilon = _check_nonnegative("epsilon", epsilon, type(self).__name__)

    def perturb(self, critic, loss, x_real, x_fake, seed):
        grad_r, grad_f = _d_loss_gradients(critic, loss, x_real, x_fake)
        # grad of D's loss = -grad of V_D, so "x - eps sign(grad V_D)" is "x + eps sign(grad loss)".
        delta_r = self.epsilon * tf.sign(grad_r)
        delta_f = self.epsilon * tf.sign(grad_f)
        return Perturbation(
            real=x_real + delta_r,
            fake=x_fake + delta_f,
            norm=_mean_perturbation_norm(delta_r, delta_f),
        )

    def get_config(self):
        return {"epsilon": self.epsilon}


class DirectAdversarialTraining(Regularizer):
    """Direct Adversarial Training: D trained on batch-mean-targeted perturbations.

    Each example is pushed one gradient step towards where the *other* class
    sits under D, so D learns not to be fooled by the small moves a generator
    step can make (paper section 4).

    ``variant="paper"`` (Eq. 9-10, default)::

        t_r = mean_j g1(D(x_f_j))          t_f = mean_j g2(D(x_r_j))
        delta_r_i = -eps * grad_{x_r_i} |g1(D(x_r_i)) - t_r|
        delta_f_i = -eps * grad_{x_f_i} |g2(D(x_f_i)) - t_f|

    ``variant="reference"`` (the authors' released code, which produced
    Table 2): on raw logits, the objective is the gap of batch means
    ``|mean_i D(x_i) - mean_j D(x_other_j)|``, the step is
    ``-eps * clip(grad, -1, 1)``, and fakes are clipped to the pixel range.

    Targets are held constant while differentiating, means are global across
    replicas, and the gradient is with respect to the inputs only (no
    second-order term, no BatchNorm or spectral-norm update).

    Args:
      epsilon: step size (1 in every experiment of the paper), >= 0.
      variant: ``"paper"`` or ``"reference"``.
      with_clean: False trains D on the perturbed batch only (``dat``); True on
        clean and perturbed together, as one batch of twice the size
        (``datt``, so the loss is the average of the two).
      clip: which perturbed batches are clipped to ``clip_range``: ``"none"``,
        ``"fake"`` or ``"both"``.  ``None`` picks the variant's default
        (``"none"`` for paper, ``"fake"`` for reference).
      clip_range: ``(low, high)`` pixel range for ``clip``.

    Example:

    >>> reg = get_regularizer("dat", epsilon=1.0, variant="paper")
    >>> reg.variant
    'paper'

    Reference: paper Algorithm 1 and Eq. (9)-(11); ``../shared/DESIGN.md`` s. 2.
    """

    def __init__(
        self,
        epsilon: float = 1.0,
        variant: str = "paper",
        with_clean: bool = False,
        clip: str | None = None,
        clip_range: tuple[float, float] = (-1.0, 1.0),
    ):
        cls = type(self).__name__
        self.epsilon = _check_nonnegative("epsilon", epsilon, cls)
        self.variant = _check_choice("variant", variant, ("paper", "reference"), cls)
        self.with_clean = bool(with_clean)
        if clip is None:
            clip = "none" if variant == "paper" else "fake"
        self.clip = _check_choice("clip", clip, ("none", "fake", "both"), cls)
        low, high = (float(v) for v in clip_range)
        if not low < high:
            raise ValueError(f"{cls}: clip_range must be (low, high) with low < high, got {clip_range!r}.")
        self.clip_range = (low, high)

    # The two variants' input gradients --------------------------------------

    def _paper_gradients(self, critic, loss, x_real, x_fake):
        def objective(lr, lf):
            # Targets are global batch means, held constant (global_mean stops gradients).
            t_r = distributed.global_mean(loss.g1(lf))
            t_f = distributed.global_mean(loss.g2(lr))
            return tf.reduce_sum(tf.abs(loss.g1(lr) - t_r)) + tf.reduce_sum(tf.abs(loss.g2(lf) - t_f))

        return critic.pair_input_gradients(objective, x_real, x_fake)

    def _reference_gradients(self, critic, loss, x_real, x_fake):
        del loss
        n = distributed.global_batch_size(tf.shape(x_real)[0])

        def objective(lr, lf):
            # d/dx_i |mean(D(x)) - m_other| = sign(gap) * dD(x_i)/dx_i / N_global, with
            # the means global over replicas and held constant.
            sign = tf.sign(distributed.global_mean(lr) - distributed.global_mean(lf))
            return sign * (tf.reduce_sum(lr) - tf.reduce_sum(lf)) / n

        grad_r, grad_f = critic.pair_input_gradients(objective, x_real, x_fake)
        return tf.clip_by_value(grad_r, -1.0, 1.0), tf.clip_by_value(grad_f, -1.0, 1.0)

    def adversarial_examples(self, critic, loss, x_real, x_fake):
        """Returns ``(x_r_adv, x_f_adv, delta_r, delta_f)``."""
        if self.variant == "paper":
            grad_r, grad_f = self._paper_gradients(critic, loss, x_real, x_fake)
        else:
            grad_r, grad_f = self._reference_gradients(critic, loss, x_real, x_fake)
        delta_r = -self.epsilon * tf.cast(grad_r, x_real.dtype)
        delta_f = -self.epsilon * tf.cast(grad_f, x_fake.dtype)
        adv_r, adv_f = x_real + delta_r, x_fake + delta_f
        low, high = self.clip_range
        if self.clip in ("fake", "both"):
            adv_f = tf.clip_by_value(adv_f, low, high)
        if self.clip == "both":
            adv_r = tf.clip_by_value(adv_r, low, high)
        return adv_r, adv_f, adv_r - x_real, adv_f - x_fake

    def perturb(self, critic, loss, x_real, x_fake, seed):
        adv_r, adv_f, delta_r, delta_f = self.adversarial_examples(critic, loss, x_real, x_fake)
        norm = _mean_perturbation_norm(delta_r, delta_f)
        if self.with_clean:
            return Perturbation(
                real=tf.concat([x_real, adv_r], 0), fake=tf.concat([x_fake, adv_f], 0), norm=norm
            )
        return Perturbation(real=adv_r, fake=adv_f, norm=norm)

    def get_config(self):
        return {
            "epsilon": self.epsilon,
            "variant": self.variant,
            "with_clean": self.with_clean,
            "clip": self.clip,
            "clip_range": list(self.clip_range),
        }


# -----------------------------------------------------------------------------
# Registry
# -----------------------------------------------------------------------------

REGULARIZERS = {
    "none": lambda **kw: Regularizer(**kw),
    "gp": lambda **kw: GradientPenalty(**{"weight": 10.0, **kw, "kind": "one_centered"}),
    "lp": lambda **kw: GradientPenalty(**{"weight": 10.0, **kw, "kind": "one_sided"}),
    "zero_gp": lambda **kw: GradientPenalty(**{"weight": 10.0, **kw, "kind": "zero_centered"}),
    "r1": lambda **kw: GradientPenalty(**{"weight": 10.0, **kw, "kind": "zero_centered", "where": "real"}),
    "ar": lambda **kw: RobustRegularizer(**{**kw, "target": "logits"}),
    "rfm": lambda **kw: RobustRegularizer(**{**kw, "target": "features"}),
    "asgan": lambda **kw: FGSM(**kw),
    "dat": lambda **kw: DirectAdversarialTraining(**{**kw, "with_clean": False}),
    "datt": lambda **kw: DirectAdversarialTraining(**{**kw, "with_clean": True}),
}
"""Name -> factory. Keyword arguments are the class's constructor arguments."""


def get_regularizer(name, **kwargs) -> Regularizer:
    """Builds the regularizer called ``name`` with constructor ``kwargs``.

    A :class:`Regularizer` instance is returned as is.

    Raises:
      ValueError: for an unknown name (listing the valid ones) or a bad
        argument (naming it and its value).
    """
    if isinstance(name, Regularizer):
        return name
    if name not in REGULARIZERS:
        raise ValueError(f"Unknown regularizer {name!r}; expected one of {sorted(REGULARIZERS)}.")
    try:
        reg = REGULARIZERS[name](**kwargs)
    except TypeError as e:
        raise ValueError(f"Bad arguments {kwargs!r} for regularizer {name!r}: {e}") from None
    reg.name = name
    return reg


def serialize(reg: Regularizer) -> dict:
    """``{"name": ..., "config": ...}``, the inverse of :func:`deserialize`."""
    config = dict(reg.get_config())
    for fixed in ("kind", "target", "with_clean"):
        config.pop(fixed, None)
    if reg.name == "r1":
        config.pop("where", None)
    return {"name": reg.name, "config": config}


def deserialize(spec) -> Regularizer:
    if isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, str):
        return get_regularizer(spec)
    return get_regularizer(spec["name"], **spec.get("config", {}))

