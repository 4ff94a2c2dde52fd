"""Discriminator regularizers: DAT and every method the paper compares it with.

A regularizer is a :class:`Regularizer` (``perturb`` -> the inputs D trains on,
``penalty`` -> a scalar added to D's loss), registered under one or more names
in :data:`REGULARIZERS` with :func:`register`; :func:`get_regularizer` builds
one by name.  All batch statistics are global across ``tf.distribute``
replicas and all randomness comes from the seed the GAN passes in, so results
do not depend on the replica count.

Modules: :mod:`.base` (protocol, registry), :mod:`.gradient_penalty` (gp, lp,
zero_gp, r1), :mod:`.adversarial` (ar, rfm, asgan), :mod:`.dat` (dat, datt).
Every module of this package is imported here, so a new module's
``@register`` classes are known without an import line of their own.
"""

import importlib
import pkgutil

from dat_tf.regularizers.base import (
    REGULARIZERS,
    DStep,
    Entry,
    Perturbation,
    Regularizer,
    get_regularizer,
    names_of,
    register,
)
from dat_tf.regularizers.gradient_penalty import GradientPenalty, interpolate
from dat_tf.regularizers.adversarial import FGSM, RobustRegularizer
from dat_tf.regularizers.dat import DirectAdversarialTraining

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
del _module

__all__ = [
    "REGULARIZERS",
    "DStep",
    "DirectAdversarialTraining",
    "Entry",
    "FGSM",
    "GradientPenalty",
    "Perturbation",
    "Regularizer",
    "RobustRegularizer",
    "get_regularizer",
    "interpolate",
    "names_of",
    "register",
]
