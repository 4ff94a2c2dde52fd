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

Reference: paper Eq. (2); docs/design.md, "Losses".
"""

from __future__ import annotations

from dat_tf.lazy import keras_serializable, lazy_module
from dat_tf.registry import Registry, qualified_name

# TensorFlow and Keras load on first use: the loss registry is read by flag
# checks and --help, which must not wait for them.
keras = lazy_module("keras")
tf = lazy_module("tensorflow")


class GANLoss:
    """One loss family: D maximises ``E[g1(D(x_r))] + E[g2(D(x_f))]``, G minimises ``E[generator(D(G(z)))]``.

    Subclass it and override :meth:`g1`, :meth:`g2` and :meth:`generator`
    (elementwise functions of logits); :func:`register_loss` names it and
    registers it with Keras, so it is saved with the GAN (``get_config``).  An
    unnamed subclass needs ``keras.saving.register_keras_serializable`` to be saved.

    Example:

    >>> @register_loss("linear")
    ... class Linear(GANLoss):
    ...     def g1(self, t): return t
    ...     def g2(self, t): return -t
    ...     def generator(self, t): return -t
    >>> float(Linear().discriminator_loss(tf.constant([2.0]), tf.constant([1.0])))
    -1.0
    """

    @property
    def name(self) -> str:
        """The name this class is registered under (:func:`register_loss`), else the class name."""
        for name, cls in LOSSES.items():
            if cls is type(self):
                return name
        return type(self).__name__

    def g1(self, t):
        """Elementwise score of reals, maximised by D."""
        raise NotImplementedError

    def g2(self, t):
        """Elementwise score of fakes, maximised by D."""
        raise NotImplementedError

    def generator(self, t):
        """Elementwise loss of fakes, minimised by G."""
        raise NotImplementedError

    def discriminator_loss(self, real_logits, fake_logits):
        """``-(mean g1(real) + mean g2(fake))``: the scalar D minimises."""
        return -(tf.reduce_mean(self.g1(real_logits)) + tf.reduce_mean(self.g2(fake_logits)))

    def generator_loss(self, fake_logits):
        """Mean generator loss of the logits D gives to ``G(z)``."""
        return tf.reduce_mean(self.generator(fake_logits))

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        return f"{type(self).__name__}()"


LOSSES = Registry("GAN loss")
"""Name -> :class:`GANLoss` subclass, in registration order (a :class:`dat_tf.registry.Registry`)."""


def register_loss(name: str, *, package: str | None = None):
    """Class decorator: makes a :class:`GANLoss` subclass ``loss=name`` and Keras-serializable.

    Args:
      name: the ``loss=`` / ``--loss`` value; another class's name is refused.
      package: the Keras name's first part (default: the class's top-level package).
    """

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, GANLoss)):
            raise TypeError(f"register_loss({name!r}) takes a GANLoss subclass, got {cls!r}.")
        LOSSES.add(name, cls, owner=qualified_name(cls))
        return keras_serializable(package)(cls)

    return decorate


def _log_sigmoid(t):
    return -tf.nn.softplus(-t)  # log sigmoid(t)


def _log_one_minus_sigmoid(t):
    return -tf.nn.softplus(t)  # log(1 - sigmoid(t))


@register_loss("ns")
class NonSaturating(GANLoss):
    """Non-saturating GAN (Goodfellow et al. 2014, section 3)."""

    def g1(self, t):
        return _log_sigmoid(t)

    def g2(self, t):
        return _log_one_minus_sigmoid(t)

    def generator(self, t):
        return tf.nn.softplus(-t)


@register_loss("minimax")
class Minimax(NonSaturating):
    """Original minimax GAN: G minimises ``E[log(1 - D(G(z)))]``."""

    def generator(self, t):
        return -tf.nn.softplus(t)


@register_loss("lsgan")
class LeastSquares(GANLoss):
    """Least squares GAN with a=0, b=c=1 (Mao et al. 2017); G's loss scaled 0.5."""

    def g1(self, t):
        return -tf.square(t - 1.0)

    def g2(self, t):
        return -tf.square(t)

    def generator(self, t):
        return 0.5 * tf.square(t - 1.0)


@register_loss("wgan")
class Wasserstein(GANLoss):
    """Wasserstein GAN critic (Arjovsky et al. 2017)."""

    def g1(self, t):
        return t

    def g2(self, t):
        return -t

    def generator(self, t):
        return -t


@register_loss("hinge")
class Hinge(GANLoss):
    """Hinge loss as in SNGAN / mimicry."""

    def g1(self, t):
        return -tf.nn.relu(1.0 - t)

    def g2(self, t):
        return -tf.nn.relu(1.0 + t)

    def generator(self, t):
        return -t


def get_loss(name) -> GANLoss:
    """The loss family called ``name`` (a :class:`GANLoss` instance passes through).

    A dict is read as a Keras-serialized loss.

    Raises:
      ValueError: naming the bad value and the valid names.
    """
    if isinstance(name, GANLoss):
        return name
    if isinstance(name, dict):
        return keras.saving.deserialize_keras_object(name)
    return LOSSES.lookup(name)()
