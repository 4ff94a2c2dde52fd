"""A regularizer defined here, in the test file alone, is a first-class citizen.

It is one class with one decorator (``register``: no ``dataclass``, no Keras
registration of its own) and then, with no other file touched: validated and
built from a ``TrainConfig``, given its own flags, trained by ``train`` and by
``GAN.fit``, and saved and loaded with the model.
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import GAN
from dat_tf.hparams import param
from dat_tf.regularizers import REGULARIZERS, Regularizer, get_regularizer, register
from dat_tf.train.config import TrainConfig, flag_kinds
from dat_tf.train.loop import train


@register("test_real_r1", help="R1 with its own weight, defined in a test file.")
class RealR1(Regularizer):
    """``weight * E||grad D(x_r)||^2``: the penalty R1 computes, written independently."""

    flag_prefix = "test_r1"

    weight: float = param(1.0, "Lambda of the test regularizer.", low=0.0)

    def penalty(self, step, pert):
        grad, _ = step.critic.input_gradient(tf.reduce_sum, step.real)
        return self.weight * tf.reduce_mean(tf.reduce_sum(tf.square(tf.reshape(grad, [tf.shape(grad)[0], -1])), 1))


def test_one_decorator_makes_a_dataclass_saved_by_keras():
    assert "__dataclass_fields__" in RealR1.__dict__ and [f.name for f in dataclasses.fields(RealR1)] == ["weight"]
    assert RealR1(weight=2.0) == RealR1(weight=2.0) != RealR1(weight=1.0)
    package = RealR1.__module__.split(".")[0]  # the top-level package of the class's module
    assert keras.saving.get_registered_name(RealR1) == f"{package}>RealR1"
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(RealR1(weight=0.25)))
    assert type(again) is RealR1 and again.weight == 0.25


def test_registered_once_and_known_everywhere():
    assert REGULARIZERS["test_real_r1"].cls is RealR1
    assert flag_kinds()["test_r1_weight"] is float  # a flag, from the field
    cfg = TrainConfig.from_flags({"regularizer": "test_real_r1", "test_r1_weight": 2.5}).validate()
    reg = cfg.build_regularizer()
    assert isinstance(reg, RealR1) and reg.weight == 2.5 and reg.name == "test_real_r1"
    with pytest.raises(ValueError, match=r"--test_r1_weight=-1.0 is not allowed; expected a finite number >= 0"):
        TrainConfig.from_flags({"regularizer": "test_real_r1", "test_r1_weight": -1.0}).validate()


def test_its_penalty_is_the_r1_penalty(quadratic_d, rng):
    """On D(x) = 0.5 ||x||^2 the input gradient is x, so the penalty is weight * mean ||x_r||^2."""
    from dat_tf.critic import Critic
    from dat_tf.losses import get_loss
    from dat_tf.regularizers import DStep

    x_r = rng.normal(size=(5, 3)).astype(np.float32)
    step = DStep(Critic(quadratic_d(3)), get_loss("ns"), tf.constant(x_r), tf.constant(-x_r), tf.constant([1, 2], tf.int64))
    reg = RealR1(weight=0.7)
    expected = 0.7 * np.mean(np.sum(x_r**2, axis=1))
    assert float(reg.penalty(step, reg.perturb(step))) == pytest.approx(expected, rel=1e-5)
    builtin = get_regularizer("r1", weight=0.7)
    assert float(builtin.penalty(step, builtin.perturb(step))) == pytest.approx(expected, rel=1e-4)


def test_trains_from_a_config(tmp_path):
    cfg = TrainConfig(regularizer="test_real_r1", reg_args={"weight": 3.0}, n_iter=6, log_every=3, batch_size=32,
                      width=8, sample_every=0, steps_per_execution=1, verbose=0, checkpoint_every=0,
                      run_dir=str(tmp_path / "run"))
    gan, history = train(cfg)
    assert int(gan.g_steps.numpy()) == 6
    assert isinstance(gan.regularizer, RealR1) and gan.regularizer.weight == 3.0
    assert history["reg"][-1] > 0 and np.isfinite(history["reg"][-1])
    loaded = keras.models.load_model(tmp_path / "run" / "gan.keras")
    assert isinstance(loaded.regularizer, RealR1) and loaded.regularizer.weight == 3.0


def test_fit_and_save_load_from_the_class(tmp_path):
    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    gan = GAN(g, d, latent_dim=2, regularizer=RealR1(weight=0.5), seed=1)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    h = gan.fit(np.random.default_rng(0).normal(size=(64, 2)).astype("float32"), batch_size=32, epochs=1, verbose=0)
    assert h.history["reg"][-1] > 0
    gan.save(tmp_path / "g.keras")
    again = keras.models.load_model(tmp_path / "g.keras")
    assert type(again.regularizer) is RealR1 and again.regularizer == gan.regularizer
