"""The regularizer protocol and its registry.

A regularizer is what the paper's Algorithm 1 varies inside one discriminator
step, in two calls the GAN makes:

1. :meth:`Regularizer.perturb` (outside the tape over D's weights): the inputs
   D is trained on (DAT, DATT, ASGAN replace them) and any adversarial copies a
   penalty needs (AR, RFM).  Its input gradients leave D's state alone and give
   D's weights no gradient.
2. :meth:`Regularizer.penalty` (inside that tape): a scalar added to D's loss.

The GAN computes ``loss.discriminator_loss(D(x_r'), D(x_f')) + penalty``
itself; a regularizer knows nothing of the model.  A regularizer is one class
decorated with :func:`register`, which makes it a dataclass whose fields
(declared with :func:`dat_tf.hparams.param`) are the constructor's arguments,
the ``get_config`` and (with the class's ``flag_prefix``) the command-line
flags, registers it with Keras (saved with the model), and names it, with the
arguments the name fixes.  ``module:Class`` names a subclass in a module of
your own (imported on first use, then registered under that name).

Example (a regularizer of your own; it trains from a ``TrainConfig``, in
``fit`` and through ``save``/``load_model``):

>>> @register("tiny_gp", help="0-GP with a small weight, on reals.")
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
import importlib
import inspect
import re
import typing

from dat_tf.hparams import param, problems
from dat_tf.lazy import keras_serializable, lazy_module
from dat_tf.losses import GANLoss
from dat_tf.registry import Registry, qualified_name

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


class Regularizer:
    """Base class: the plain GAN loss, no perturbation, no penalty (registered as ``none``).

    Subclasses, decorated with :func:`register`, are dataclasses whose fields
    (declared with :func:`dat_tf.hparams.param`) are their hyperparameters;
    they override :meth:`perturb`, :meth:`penalty` or both.

    Attributes:
      flag_prefix: command-line flags of the fields are ``--<prefix>_<field>``
        (class attribute; default: the first name the class is registered
        under, or for a ``module:Class`` name the class name in snake case).
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


def _import_class(name: str):
    """The :class:`Entry` of ``module:Class``: imports ``module`` and registers ``Class`` under ``name``.

    Returns ``None`` for a name of another form (the unknown-name error follows).

    Raises:
      ValueError: the module cannot be imported, has no such class, or it is no Regularizer subclass.
    """
    module_name, _, class_name = name.partition(":")
    if not (module_name and class_name) or not all(p.isidentifier() for p in module_name.split(".") + [class_name]):
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"cannot import module {module_name!r} ({e}); a regularizer of your own is "
                         "module:Class with the module on PYTHONPATH or installed") from None
    except Exception as e:  # noqa: BLE001 - the user's module raised while importing
        raise ValueError(f"importing module {module_name!r} failed: {type(e).__name__}: {e}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Regularizer)):
        found = sorted(n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Regularizer)
                       and v.__module__ == module.__name__)
        close = difflib.get_close_matches(class_name, found, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        what = f"module {module_name!r} has no {class_name!r}" if cls is None else \
            f"{module_name}.{class_name} is a {type(cls).__name__}, not a Regularizer subclass"
        raise ValueError(f"{what}{hint}; its Regularizer subclasses: {found}")
    register(name)(cls)
    return REGULARIZERS[name]


REGULARIZERS = Registry("regularizer")
"""Name -> :class:`Entry`, in registration order (a :class:`dat_tf.registry.Registry`); ``module:Class``
names are imported and registered on first lookup."""
REGULARIZERS.add_pattern("module:Class", _import_class)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def register(name: str, *, fixed: dict | None = None, help: str = "", package: str | None = None):
    """Class decorator: makes a :class:`Regularizer` subclass the regularizer called ``name``.

    One decorator does all a regularizer needs: the class becomes a dataclass
    (its :func:`~dat_tf.hparams.param` fields are its arguments and its
    ``get_config``), is registered with Keras as ``"package>ClassName"`` (so a
    GAN saves and loads it), and is registered under ``name``.  Stack it to
    give one class several names (``gp``, ``lp``, ...).  A name another class
    registered is refused; the same class registering it again replaces it.

    Args:
      name: the ``regularizer=`` / ``--regularizer`` value.
      fixed: arguments the name fixes (``{"kind": "one_sided"}``); passing
        one of them under this name is an error.
      help: one line for ``--help`` (default: the docstring's first line).
      package: the Keras name's first part (default: the class's top-level package).

    Example::

        @register("tiny_gp", help="0-GP with a small weight.")
        class TinyGP(Regularizer):
            weight: float = param(0.1, "lambda", low=0.0)
    """

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, Regularizer)):
            raise TypeError(f"register({name!r}) takes a subclass of Regularizer, got {cls!r}.")
        for klass in reversed(cls.__mro__):  # parents first: a plain parent's fields count too
            if issubclass(klass, Regularizer) and "__dataclass_fields__" not in klass.__dict__:
                dataclasses.dataclass(klass)
        bad = sorted(set(fixed or {}) - {f.name for f in _fields(cls)})
        if bad:
            raise ValueError(f"register({name!r}): {cls.__name__} has no field {', '.join(bad)}.")
        doc = help or (inspect.getdoc(cls) or "").split("\n")[0]
        REGULARIZERS.add(name, Entry(name, cls, dict(fixed or {}), doc), owner=qualified_name(cls))
        if cls.__dict__.get("flag_prefix") is None:
            cls.flag_prefix = name if name.isidentifier() else _snake(cls.__name__)
        return keras_serializable(package)(cls)

    return decorate


def get_regularizer(name, **kwargs) -> Regularizer:
    """Builds the regularizer called ``name`` with hyperparameters ``kwargs``.

    A :class:`Regularizer` instance is returned as is; a dict is read as a
    Keras-serialized regularizer (or the older ``{"name", "config"}`` form);
    ``module:Class`` imports ``module`` and registers its ``Class``.

    Raises:
      ValueError: for an unknown name (naming it, the valid ones and the
        closest), a module or class that cannot be used, an argument the name
        fixes, an unknown argument, or a bad value (naming it).
    """
    if isinstance(name, Regularizer):
        if kwargs:
            raise ValueError(f"get_regularizer got an instance and arguments {kwargs}; pass one or the other.")
        return name
    if isinstance(name, dict):
        if "class_name" in name:
            return keras.saving.deserialize_keras_object(name)
        return get_regularizer(name["name"], **{**name.get("config", {}), **kwargs})
    return REGULARIZERS.lookup(name).build(**kwargs)


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
