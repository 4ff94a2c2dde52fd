"""Any regularizer or loss object a user builds survives ``save`` / ``load_model`` with the GAN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import GAN
from dat_tf.losses import GANLoss, get_loss
from dat_tf.regularizers import DirectAdversarialTraining, GradientPenalty, Regularizer, RobustRegularizer


def _gan(**kwargs):
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu", name="h"), keras.layers.Dense(1)])
    gan = GAN(g, d, latent_dim=2, seed=3, **kwargs)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return gan


def _reload(gan, tmp_path):
    real = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    gan.fit(real, batch_size=32, epochs=1, verbose=0)
    gan.save(tmp_path / "gan.keras")
    return keras.models.load_model(tmp_path / "gan.keras")


@pytest.mark.parametrize(
    "reg, name",
    [
        (DirectAdversarialTraining(epsilon=0.5), "dat"),
        (DirectAdversarialTraining(epsilon=2.0, variant="reference", with_clean=True), "datt"),
        (GradientPenalty(weight=3.0, kind="zero_centered", where="real"), "r1"),
        (RobustRegularizer(epsilon=1e-3, target="logits"), "ar"),
    ],
)
def test_class_built_regularizer_round_trips(reg, name, tmp_path):
    loaded = _reload(_gan(regularizer=reg), tmp_path)
    assert type(loaded.regularizer) is type(reg) and loaded.regularizer == reg
    assert loaded.regularizer.name == name


@keras.saving.register_keras_serializable(package="dat_tf_tests")
class _Shifted(Regularizer):
    """A user's plain (non-dataclass) subclass with its own state: a Keras-style ``get_config``."""

    def __init__(self, shift=0.25):
        self.shift = shift

    def perturb(self, step):
        pert = super().perturb(step)
        pert.real = step.real + self.shift
        return pert

    def get_config(self):
        return {"shift": self.shift}


def test_user_subclass_round_trips_and_keeps_training_with_it(tmp_path):
    loaded = _reload(_gan(regularizer=_Shifted(0.75)), tmp_path)
    assert type(loaded.regularizer) is _Shifted and loaded.regularizer.shift == 0.75
    assert loaded.regularizer.name == "_Shifted"


@keras.saving.register_keras_serializable(package="dat_tf_tests")
class _ScaledWasserstein(GANLoss):
    def __init__(self, scale=1.0):
        self.scale = scale

    def g1(self, t):
        return self.scale * t

    def g2(self, t):
        return -self.scale * t

    def generator(self, t):
        return -self.scale * t

    def get_config(self):
        return {"scale": self.scale}


def test_custom_loss_round_trips(tmp_path):
    loaded = _reload(_gan(loss=_ScaledWasserstein(2.0)), tmp_path)
    assert type(loaded.gan_loss) is _ScaledWasserstein and loaded.gan_loss.scale == 2.0
    t = tf.constant([1.0, -2.0])
    np.testing.assert_allclose(loaded.gan_loss.g1(t).numpy(), [2.0, -4.0])


def test_builtin_loss_by_name_and_object():
    assert get_loss("hinge").name == "hinge" and get_loss(get_loss("lsgan")).name == "lsgan"
    assert _ScaledWasserstein().name == "_ScaledWasserstein"  # unregistered names fall back to the class
    with pytest.raises(ValueError, match=r"Unknown GAN loss 'hing' \(did you mean 'hinge'\?\)"):
        get_loss("hing")
