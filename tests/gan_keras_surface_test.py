"""The standard Keras surface on ``GAN`` (issue 11, problem 5): evaluation, validation,
learning-rate callbacks, metric directions, export, and each standard callback with ``fit``."""

import csv
import glob
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from dat_tf import nets
from dat_tf.gan import GAN


def make_gan(lr_d=1e-2, lr_g=4e-3, batchnorm=False, seed=7):
    keras.utils.set_random_seed(0)
    g = nets.mlp_generator(latent_dim=2, width=8, depth=2)
    if batchnorm:  # a D with state that training-mode calls would change
        d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8), keras.layers.BatchNormalization(),
                              keras.layers.LeakyReLU(0.2), keras.layers.Dense(1)])
    else:
        d = nets.mlp_discriminator(width=8, depth=2)
    gan = GAN(g, d, latent_dim=2, loss="ns", regularizer="dat", seed=seed, log_gradient_norms=False)
    gan.compile(keras.optimizers.Adam(lr_d, beta_1=0.5), keras.optimizers.Adam(lr_g, beta_1=0.5))
    return gan


def points(n, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype(np.float32)


def state(gan):
    """Every variable of the model and both optimizers (BatchNorm statistics and g_steps included)."""
    variables = gan.weights + gan.d_optimizer.variables + gan.g_optimizer.variables
    return [v.numpy().copy() for v in variables]


def assert_same(a, b):
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def lr(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def softplus(t):
    return np.logaddexp(0.0, t)


VAL_KEYS = {"d_loss", "g_loss", "d_real", "d_fake"}


# -----------------------------------------------------------------------------
# test_step: evaluate, validation_data, validation_split
# -----------------------------------------------------------------------------


def test_evaluate_scores_reals_and_fresh_fakes_in_inference_mode_and_changes_nothing():
    gan = make_gan(batchnorm=True)
    x = points(64)
    gan.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    before = state(gan)
    steps = int(gan.g_steps.numpy())

    logs = gan.evaluate(x, batch_size=64, verbose=0, return_dict=True)

    assert set(logs) == VAL_KEYS
    assert_same(before, state(gan))  # no weight, BatchNorm statistic, optimizer slot or g_steps changed
    assert int(gan.g_steps.numpy()) == steps
    # Independent reference: D and G in inference mode, NS loss written out.
    real = gan.discriminator(x, training=False).numpy().reshape(-1)
    z = gan._evaluation_latents(64).numpy()
    fake = gan.discriminator(gan.generator(z, training=False), training=False).numpy().reshape(-1)
    np.testing.assert_allclose(logs["d_real"], real.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs["d_fake"], fake.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logs["d_loss"], softplus(-real).mean() + softplus(fake).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["g_loss"], softplus(-fake).mean(), rtol=1e-5)
    # Reproducible, and the evaluation latents are not training's.
    assert gan.evaluate(x, batch_size=64, verbose=0, return_dict=True) == logs
    assert gan.evaluate(x, batch_size=64, verbose=0) == [logs[k] for k in sorted(logs)]
    assert gan.metrics_names[:4] == ["d_loss", "g_loss", "d_real", "d_fake"]
    assert not np.allclose(z, gan._latents(64, 0).numpy())


def test_evaluate_does_not_change_the_training_draws():
    x = points(64)
    a, b = make_gan(), make_gan()
    a.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    b.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    a.evaluate(x, batch_size=16, verbose=0)
    a.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    b.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert_same(state(a), state(b))


def test_evaluate_refuses_a_batch_d_cannot_take_with_the_training_error():
    gan = make_gan()
    with pytest.raises(ValueError, match=r"per-example shape \(3,\).*discriminator expects \(2,\)"):
        gan.evaluate(np.zeros((8, 3), np.float32), verbose=0)


def test_fit_validation_data_reports_val_metrics_equal_to_evaluate():
    gan = make_gan()
    x, xv = points(64), points(32, seed=2)
    h = gan.fit(x, batch_size=16, epochs=2, verbose=0, validation_data=(xv,), shuffle=False)
    assert {f"val_{k}" for k in VAL_KEYS} <= set(h.history)
    assert len(h.history["val_d_loss"]) == 2
    logs = gan.evaluate(xv, batch_size=16, verbose=0, return_dict=True)
    for k in VAL_KEYS:
        np.testing.assert_allclose(h.history[f"val_{k}"][-1], logs[k], rtol=1e-6)


def test_fit_validation_split_evaluates_the_last_fraction():
    gan = make_gan()
    x = points(80)
    h = gan.fit(x, batch_size=16, epochs=1, verbose=0, validation_split=0.2, shuffle=False)
    assert int(gan.g_steps.numpy()) == 4  # trained on the first 64 examples only
    logs = gan.evaluate(x[64:], batch_size=16, verbose=0, return_dict=True)
    np.testing.assert_allclose(h.history["val_d_real"][-1], logs["d_real"], rtol=1e-6)


# -----------------------------------------------------------------------------
# Learning rates: gan.optimizer, ReduceLROnPlateau, LearningRateScheduler
# -----------------------------------------------------------------------------


class SetLogs(keras.callbacks.Callback):
    """Replaces ``logs[key]`` at each epoch end by a constructed sequence (callbacks share the dict)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def test_reduce_lr_on_plateau_scales_both_rates_by_its_factor():
    gan = make_gan(lr_d=1e-2, lr_g=4e-3)
    # d_loss 3, 2, 2, 2: improvement at epochs 0 and 1, then plateaus of patience 1 at epochs 2 and 3.
    cbs = [SetLogs("d_loss", [3.0, 2.0, 2.0, 2.0]),
           keras.callbacks.ReduceLROnPlateau(monitor="d_loss", factor=0.5, patience=1, min_lr=0)]
    h = gan.fit(points(32), batch_size=16, epochs=4, verbose=0, callbacks=cbs)
    np.testing.assert_allclose(lr(gan.d_optimizer), 1e-2 * 0.25, rtol=1e-6)
    np.testing.assert_allclose(lr(gan.g_optimizer), 4e-3 * 0.25, rtol=1e-6)
    # Logged at each epoch end before that epoch's reduction.
    np.testing.assert_allclose(h.history["learning_rate_d_optimizer"], [1e-2, 1e-2, 1e-2, 5e-3], rtol=1e-6)
    np.testing.assert_allclose(h.history["learning_rate_g_optimizer"], [4e-3, 4e-3, 4e-3, 2e-3], rtol=1e-6)


def test_learning_rate_scheduler_applies_the_schedule_to_each_rate():
    gan = make_gan(lr_d=1e-2, lr_g=4e-3)
    cb = keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate * 0.5)
    gan.fit(points(32), batch_size=16, epochs=3, verbose=0, callbacks=[cb])
    np.testing.assert_allclose(lr(gan.d_optimizer), 1e-2 / 8, rtol=1e-6)
    np.testing.assert_allclose(lr(gan.g_optimizer), 4e-3 / 8, rtol=1e-6)

    cb = keras.callbacks.LearningRateScheduler(lambda epoch: 1e-3 * (epoch + 1))  # one value for both
    gan.fit(points(32), batch_size=16, epochs=2, verbose=0, callbacks=[cb])
    assert lr(gan.d_optimizer) == lr(gan.g_optimizer) == pytest.approx(2e-3)


def test_optimizer_learning_rate_sets_both_and_reads_only_a_common_rate():
    gan = make_gan(lr_d=1e-2, lr_g=4e-3)
    with pytest.raises(ValueError, match="different learning rates"):
        gan.optimizer.learning_rate
    gan.optimizer.learning_rate = 3e-4
    assert lr(gan.d_optimizer) == lr(gan.g_optimizer) == pytest.approx(3e-4)
    assert gan.optimizer.learning_rate == pytest.approx(3e-4)
    assert GAN(gan.generator, gan.discriminator, latent_dim=2).optimizer is None  # before compile


def test_learning_rate_schedules_cannot_be_assigned_and_say_what_to_use():
    gan = make_gan()
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
    with pytest.raises(TypeError, match=r"pass it to the optimizer before GAN.compile"):
        gan.optimizer.learning_rate = schedule
    assert lr(gan.d_optimizer) == pytest.approx(1e-2)  # nothing was set

    keras.utils.set_random_seed(0)
    scheduled = GAN(nets.mlp_generator(latent_dim=2, width=8, depth=2), nets.mlp_discriminator(width=8, depth=2),
                    latent_dim=2)
    scheduled.compile(keras.optimizers.Adam(schedule), keras.optimizers.Adam(1e-3))
    cb = keras.callbacks.LearningRateScheduler(lambda epoch: 1e-4)
    with pytest.raises(TypeError, match=r"d_optimizer takes its learning rate from a schedule"):
        scheduled.fit(points(32), batch_size=16, epochs=1, verbose=0, callbacks=[cb])


def test_gan_optimizer_cannot_be_assigned():
    gan = make_gan()
    with pytest.raises(AttributeError, match=r"GAN.compile\(d_optimizer, g_optimizer\)"):
        gan.optimizer = keras.optimizers.Adam()


# -----------------------------------------------------------------------------
# Metric directions: EarlyStopping, ModelCheckpoint(save_best_only)
# -----------------------------------------------------------------------------


@pytest.mark.parametrize("monitor", ["d_loss", "val_d_loss"])
def test_early_stopping_knows_losses_are_minimized(monitor):
    gan = make_gan()
    # Falling then rising: minimized, the best is epoch 2 and patience 2 stops after epoch 4 (5 epochs);
    # maximized, it would stop after epoch 2.
    values = [3.0, 2.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    stop = keras.callbacks.EarlyStopping(monitor=monitor, mode="auto", patience=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot tell min from max" warning
        h = gan.fit(points(32), batch_size=16, epochs=len(values), verbose=0,
                    validation_data=(points(16, seed=3),), callbacks=[SetLogs(monitor, values), stop])
    assert len(h.history["d_loss"]) == 5
    assert stop.monitor_op is keras.ops.less


def test_metrics_without_a_direction_are_refused_by_auto_mode():
    gan = make_gan()
    stop = keras.callbacks.EarlyStopping(monitor="d_real", mode="auto")
    with pytest.raises(ValueError, match="maximized or minimized"):
        gan.fit(points(32), batch_size=16, epochs=1, verbose=0, callbacks=[stop])


def test_model_checkpoint_saves_the_epochs_where_val_d_loss_improved(tmp_path):
    gan = make_gan()
    values = [3.0, 2.0, 2.5, 1.0, 1.5]
    cb = keras.callbacks.ModelCheckpoint(str(tmp_path / "{epoch}.weights.h5"), monitor="val_d_loss",
                                         save_best_only=True, save_weights_only=True)
    gan.fit(points(32), batch_size=16, epochs=len(values), verbose=0, validation_data=(points(16, seed=3),),
            callbacks=[SetLogs("val_d_loss", values), cb])
    saved = sorted(int(os.path.basename(p).split(".")[0]) for p in glob.glob(str(tmp_path / "*.weights.h5")))
    assert saved == [1, 2, 4]  # epochs are numbered from 1 in the file name


# -----------------------------------------------------------------------------
# The other standard callbacks, with validation
# -----------------------------------------------------------------------------


def _events(folder):
    tags = {}
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags


def test_tensorboard_writes_training_and_validation_metrics(tmp_path):
    gan = make_gan()
    cb = keras.callbacks.TensorBoard(str(tmp_path))
    gan.fit(points(32), batch_size=16, epochs=2, verbose=0, validation_data=(points(16, seed=3),), callbacks=[cb])
    train, val = _events(str(tmp_path / "train")), _events(str(tmp_path / "validation"))
    assert train["epoch_d_loss"] == [0, 1]
    assert val["epoch_d_loss"] == [0, 1]
    assert val["evaluation_d_loss_vs_iterations"] == [2, 4]  # at the generator step (gan.optimizer.iterations)
    assert "epoch_learning_rate_d_optimizer" in train


def test_csv_logger_writes_val_metrics_and_both_learning_rates(tmp_path):
    gan = make_gan()
    path = str(tmp_path / "log.csv")
    cbs = [keras.callbacks.LearningRateScheduler(lambda epoch: 1e-3 / (epoch + 1)), keras.callbacks.CSVLogger(path)]
    h = gan.fit(points(32), batch_size=16, epochs=2, verbose=0, validation_data=(points(16, seed=3),), callbacks=cbs)
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    np.testing.assert_allclose([float(r["val_d_loss"]) for r in rows], h.history["val_d_loss"], rtol=1e-6)
    np.testing.assert_allclose([float(r["learning_rate_g_optimizer"]) for r in rows], [1e-3, 5e-4], rtol=1e-6)


class StopAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated crash")


def test_backup_and_restore_resumes_to_the_uninterrupted_run(tmp_path):
    x, xv = points(32), (points(16, seed=3),)
    whole = make_gan()
    h_whole = whole.fit(x, batch_size=16, epochs=3, verbose=0, shuffle=False, validation_data=xv)

    crashed = make_gan()
    backup = str(tmp_path / "backup")
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(x, batch_size=16, epochs=3, verbose=0, shuffle=False, validation_data=xv,
                    callbacks=[keras.callbacks.BackupAndRestore(backup), StopAt(1)])
    resumed = make_gan()
    h = resumed.fit(x, batch_size=16, epochs=3, verbose=0, shuffle=False, validation_data=xv,
                    callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert len(h.history["d_loss"]) == 1  # only the last epoch ran
    assert int(resumed.g_steps.numpy()) == 6
    assert_same(state(whole), state(resumed))
    np.testing.assert_allclose(h.history["val_d_loss"][-1], h_whole.history["val_d_loss"][-1], rtol=1e-6)


class PoisonD(keras.callbacks.Callback):
    """Sets D's output bias to NaN after the first batch: the second batch's losses are NaN."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            bias = self.model.discriminator.trainable_variables[-1]
            bias.assign(np.full(bias.shape, np.nan, np.float32))


def test_terminate_on_nan_watches_the_gan_losses():
    """Keras's TerminateOnNaN watches ``loss``, which a GAN does not log: fit points it at d_loss, g_loss."""
    gan = make_gan()
    x = points(64)
    h = gan.fit(x, batch_size=16, epochs=3, verbose=0, shuffle=False, validation_data=(points(16, seed=3),),
                callbacks=[PoisonD(), keras.callbacks.TerminateOnNaN()])
    assert int(gan.g_steps.numpy()) == 2  # stopped after the second batch, the first with NaN
    assert len(h.history["d_loss"]) == 1 and np.isnan(h.history["d_loss"][0])
    assert "val_d_loss" in h.history

    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 1"):
        make_gan().fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False,
                       callbacks=[PoisonD(), keras.callbacks.TerminateOnNaN(raise_error=True)])


# -----------------------------------------------------------------------------
# predict and export: the generator z -> x
# -----------------------------------------------------------------------------


def test_predict_is_the_generator_in_inference_mode():
    gan = make_gan()
    z = np.random.default_rng(4).normal(size=(10, 2)).astype(np.float32)
    np.testing.assert_allclose(gan.predict(z, batch_size=4, verbose=0), gan.generator(z, training=False).numpy(),
                               rtol=1e-6, atol=1e-6)


def test_export_writes_the_generators_serving_function(tmp_path):
    gan = make_gan()
    gan.fit(points(32), batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "gan_export")
    gan.export(path, verbose=False)
    loaded = tf.saved_model.load(path)
    z = np.random.default_rng(5).normal(size=(6, 2)).astype(np.float32)
    np.testing.assert_allclose(loaded.serve(tf.constant(z)).numpy(), gan.generator(z, training=False).numpy(),
                               rtol=1e-6, atol=1e-6)
    assert int(loaded.serve.input_signature[0].shape[-1]) == 2
