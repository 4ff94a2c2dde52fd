"""GAN loss families as pure functions of discriminator logits.

Every family is written in the form of the paper's Eq. (2): the
discriminator *maximises* ``E[g1(D(x_r))] + E[g2(D(x_f))]`` and the generator
minimises its own loss.  ``g1``/``g2`` are kept separate from the losses
because Direct Adversarial Training (DAT) builds its targets in g1/g2-space
(paper Eq. 9-10), so the regularizers need them as functions, not only the
final scalar.

All functions take logits of any shape and work elementwise; the ``*_loss``
helpers reduce with a mean over the *local* batch.  Under ``tf.distribute``
the caller divides by the replica count (see ``dat_tf.gan.GAN``).

Example:

>>> import tensorflow as tf
>>> loss = get_loss("hinge")
>>> float(loss.discriminator_loss(tf.constant([2.0]), tf.constant([-2.0])))
0.0

Reference: paper Eq. (2); ``../shared/DESIGN.md`` section 1.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import tensorflow as tf

Fn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class GANLoss:
    """One loss family.

    Attributes:
      name: registry name.
      g1: elementwise score of reals, maximised by D.
      g2: elementwise score of fakes, maximised by D.
      generator: elementwise loss of fakes, minimised by G (mean taken by
        :meth:`generator_loss`).
    """

    name: str
    g1: Fn
    g2: Fn
    generator: Fn

    def discriminator_loss(self, real_logits, fake_logits):
        """``-(mean g1(real) + mean g2(fake))``: the scalar D minimises."""
        return -(tf.reduce_mean(self.g1(real_logits)) + tf.reduce_mean(self.g2(fake_logits)))

    def generator_loss(self, fake_logits):
        """Mean generator loss of the logits D gives to ``G(z)``."""
        return tf.reduce_mean(self.generator(fake_logits))


def _neg_softplus_neg(t):
    return -tf.nn.softplus(-t)  # log sigmoid(t)


def _neg_softplus(t):
    return -tf.nn.softplus(t)  # log(1 - sigmoid(t))


LOSSES: dict[str, GANLoss] = {
    # Non-saturating GAN (Goodfellow et al. 2014, section 3).
    "ns": GANLoss("ns", _neg_softplus_neg, _neg_softplus, lambda t: tf.nn.softplus(-t)),
    # Original minimax GAN: G minimises E[log(1 - D(G(z)))].
    "minimax": GANLoss("minimax", _neg_softplus_neg, _neg_softplus, lambda t: -tf.nn.softplus(t)),
    # Least squares GAN with a=0, b=c=1 (Mao et al. 2017); G's loss scaled 0.5.
    "lsgan": GANLoss(
        "lsgan",
        lambda t: -tf.square(t - 1.0),
        lambda t: -tf.square(t),
        lambda t: 0.5 * tf.square(t - 1.0),
    ),
    # Wasserstein GAN critic (Arjovsky et al. 2017).
    "wgan": GANLoss("wgan", lambda t: t, lambda t: -t, lambda t: -t),
    # Hinge loss as in SNGAN / mimicry.
    "hinge": GANLoss(
        "hinge",
        lambda t: -tf.nn.relu(1.0 - t),
        lambda t: -tf.nn.relu(1.0 + t),
        lambda t: -t,
    ),
}


def get_loss(name: str) -> GANLoss:
    """Returns the loss family called ``name``.

    Raises:
      ValueError: naming the bad value and the valid names.
    """
    if isinstance(name, GANLoss):
        return name
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown GAN loss {name!r}; expected one of {sorted(LOSSES)}."
        ) from None
