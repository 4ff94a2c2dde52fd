"""The regularizer protocol and its registry.

A regularizer is what the paper's Algorithm 1 varies inside one discriminator
step, in two calls the GAN makes:

1. :meth:`Regularizer.perturb` (outside the tape over D's weights): the inputs
   D is trained on (DAT, DATT, ASGAN replace them) and any adversarial copies a
   penalty needs (AR, RFM).  Its input gradients leave D's state alone and give
   D's weights no gradient.
2. :meth:`Regularizer.penalty` (inside that tape): a scalar added to D's loss.

The GAN computes ``loss.discriminator_loss(D(x_r'), D(x_f')) + penalty``
itself; a regularizer knows nothing of the model.  Hyperparameters are
dataclass fields declared with :func:`dat_tf.hparams.param`; they are the
constructor's arguments, the ``get_config``, and (with the class's
``flag_prefix``) the command-line flags.  A name is registered once, with the
arguments it fixes, by :func:`register`.

Example (a regularizer of your own; it trains from a ``TrainConfig``, in
``fit`` and through ``save``/``load_model``):

>>> import dataclasses, keras
>>> @register("tiny_gp", help="0-GP with a small weight, on reals.")
... @keras.saving.register_keras_serializable(package="my_project")
... @dataclasses.dataclass
... class TinyGP(Regularizer):
...     weight: float = param(0.1, "lambda", low=0.0)
...     def penalty(self, step, pert):
...         g = step.critic.input_gradient(tf.reduce_sum, step.real)[0]
...         return self.weight * tf.reduce_mean(tf.reduce_sum(tf.square(g), axis=1))
>>> get_regularizer("tiny_gp", weight=0.5).weight
0.5
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing

from dat_tf.hparams import param, problems
from dat_tf.lazy import keras_serializable, lazy_module
from dat_tf.losses import GANLoss

if typing.TYPE_CHECKING:
    from dat_tf.critic import Critic

# TensorFlow and Keras load on first use: the registry is read by flag checks
# and --help, which must not wait for them.
keras = lazy_module("keras")
tf = lazy_module("tensorflow")

__all__ = ["DStep", "Perturbation", "Regularizer", "register", "get_regularizer", "REGULARIZERS", "param"]


@dataclasses.dataclass(frozen=True)
class DStep:
    """What one discriminator step hands its regularizer.

    Attributes:
      critic: D as a :class:`dat_tf.critic.Critic` (stateless scores, input gradients).
      loss: the GAN loss family (``g1``, ``g2``).
      real, fake: this step's real batch and (stopped) generated batch.
      seed: a stateless seed for the step's random draws.
    """

    critic: Critic
    loss: GANLoss
    real: tf.Tensor
    fake: tf.Tensor
    seed: tf.Tensor


@dataclasses.dataclass
class Perturbation:
    """What :meth:`Regularizer.perturb` returns.

    Attributes:
      real, fake: the batches D's adversarial loss is computed on.
      real_adv, fake_adv: adversarial copies used only by penalties (or None).
      norm: mean per-example L2 norm of the perturbation, reals and fakes
        together, global over replicas (0 for regularizers that do not perturb).
    """

    real: tf.Tensor
    fake: tf.Tensor
    real_adv: tf.Tensor | None = None
    fake_adv: tf.Tensor | None = None
    norm: tf.Tensor | float = 0.0


@keras_serializable(package="dat_tf")
@dataclasses.dataclass
class Regularizer:
    """Base class: the plain GAN loss, no perturbation, no penalty.

    Subclasses are dataclasses whose fields (declared with
    :func:`dat_tf.hparams.param`) are their hyperparameters; they override
    :meth:`perturb`, :meth:`penalty` or both.

    Attributes:
      flag_prefix: command-line flags of the fields are ``--<prefix>_<field>``
        (class attribute; default: the first name the class is registered under).
    """

    flag_prefix = None

    def __post_init__(self):
        bad = problems(self)
        if bad:
            raise ValueError(f"{type(self).__name__}: " + "; ".join(bad) + ".")

    def perturb(self, step: DStep) -> Perturbation:
        """The batches D's loss sees (default: the clean ones)."""
        return Perturbation(real=step.real, fake=step.fake)

    def penalty(self, step: DStep, pert: Perturbation) -> tf.Tensor:
        """The scalar added to D's loss, computed inside D's weight tape (default: 0)."""
        del step, pert
        return tf.constant(0.0)

    @property
    def name(self) -> str:
        """The registered name this instance is (the most specific match), else the class name."""
        return name_of(self)

    def get_config(self) -> dict:
        config = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            config[f.name] = list(value) if isinstance(value, tuple) else value
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# -----------------------------------------------------------------------------
# Registry
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered name: the class, the arguments the name fixes, and one line of help."""

    name: str
    cls: type
    fixed: dict
    help: str

    def hyperparameters(self) -> list[dataclasses.Field]:
        """The fields a user may set under this name (all fields but the fixed ones)."""
        return [f for f in _fields(self.cls) if f.name not in self.fixed]

    def build(self, **kwargs) -> Regularizer:
        for key, value in kwargs.items():
            if key in self.fixed:
                raise ValueError(
                    f"Regularizer {self.name!r} fixes {key}={self.fixed[key]!r}; got {key}={value!r}. "
                    f"Choose the name that means it ({_names_with(self.cls, key, value)}) or build "
                    f"{self.cls.__name__}(...) directly."
                )
        known = {f.name for f in _fields(self.cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(
                f"Regularizer {self.name!r} takes no argument {', '.join(unknown)}; "
                f"its arguments are {[f.name for f in self.hyperparameters()]}."
            )
        return self.cls(**{**kwargs, **self.fixed})


REGULARIZERS: dict[str, Entry] = {}
"""Name -> :class:`Entry`, in registration order."""


def register(name: str, *, fixed: dict | None = None, help: str = ""):
    """Class decorator: registers ``cls`` under ``name``, with the arguments ``name`` fixes.

    Stack it to register one class under several names (``gp``, ``lp``, ...).
    Re-registering a name with the same class replaces it (module reloads);
    with another class it is an error.
    """

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Regularizer) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"register({name!r}) takes a dataclass subclass of Regularizer, got {cls!r}.")
        old = REGULARIZERS.get(name)
        if old is not None and old.cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"Regularizer name {name!r} is already registered for {old.cls.__name__}.")
        fields = {f.name for f in _fields(cls)}
        bad = sorted(set(fixed or {}) - fields)
        if bad:
            raise ValueError(f"register({name!r}): {cls.__name__} has no field {', '.join(bad)}.")
        REGULARIZERS[name] = Entry(name, cls, dict(fixed or {}), help or (inspect.getdoc(cls) or "").split("\n")[0])
        if cls.__dict__.get("flag_prefix") is None:
            cls.flag_prefix = name
        return cls

    return decorate


def get_regularizer(name, **kwargs) -> Regularizer:
    """Builds the regularizer called ``name`` with hyperparameters ``kwargs``.

    A :class:`Regularizer` instance is returned as is; a dict is read as a
    Keras-serialized regularizer (or the older ``{"name", "config"}`` form).

    Raises:
      ValueError: for an unknown name (listing the valid ones), an argument the
        name fixes, an unknown argument, or a bad value (naming it).
    """
    if isinstance(name, Regularizer):
        if kwargs:
            raise ValueError(f"get_regularizer got an instance and arguments {kwargs}; pass one or the other.")
        return name
    if isinstance(name, dict):
        if "class_name" in name:
            return keras.saving.deserialize_keras_object(name)
        return get_regularizer(name["name"], **{**name.get("config", {}), **kwargs})
    if name not in REGULARIZERS:
        close = difflib.get_close_matches(str(name), REGULARIZERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"Unknown regularizer {name!r}{hint}; expected one of {sorted(REGULARIZERS)}.")
    return REGULARIZERS[name].build(**kwargs)


def name_of(reg: Regularizer) -> str:
    """The registered name of ``reg``: the entry of its class whose fixed arguments it matches most."""
    best, best_fixed = None, -1
    for entry in REGULARIZERS.values():
        if entry.cls is type(reg) and all(getattr(reg, k) == v for k, v in entry.fixed.items()):
            if len(entry.fixed) > best_fixed:
                best, best_fixed = entry.name, len(entry.fixed)
    return best if best is not None else type(reg).__name__


def _fields(cls):
    return [f for f in dataclasses.fields(cls) if f.init]


def names_of(cls) -> list[str]:
    """The names ``cls`` is registered under, in registration order."""
    return [e.name for e in REGULARIZERS.values() if e.cls is cls]


def _names_with(cls, key, value):
    names = [e.name for e in REGULARIZERS.values() if e.cls is cls and e.fixed.get(key) == value]
    return "name " + " or ".join(repr(n) for n in names) if names else "no registered name does"


register("none", help="The plain GAN loss: no perturbation, no penalty.")(Regularizer)


# -----------------------------------------------------------------------------
# Helpers the built-in regularizers share
# -----------------------------------------------------------------------------


def d_loss_gradients(step: DStep):
    """Per-example input gradients of D's loss ``-g1(D(x_r))`` and ``-g2(D(x_f))``."""
    loss = step.loss
    return step.critic.pair_input_gradients(
        lambda lr, lf: -tf.reduce_sum(loss.g1(lr)) - tf.reduce_sum(loss.g2(lf)), step.real, step.fake
    )


def mean_perturbation_norm(*deltas):
    """Mean per-example L2 norm of the perturbations, global over replicas."""
    from dat_tf import replicas
    from dat_tf.critic import per_example_norm

    norms = tf.concat([per_example_norm(d) for d in deltas], axis=0)
    return replicas.global_mean(norms)
