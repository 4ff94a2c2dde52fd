"""Builds and trains a run from a :class:`dat_tf.train.config.TrainConfig`.

``bin/train.py`` is a thin wrapper around :func:`train`; notebooks and the
experiment scripts call these functions directly.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import re
import shutil
import signal
import time

import keras

from dat_tf.data.registry import get_dataset
from dat_tf.nets.registry import get_net
from dat_tf.train.callbacks import ProgressLogger, TensorBoardLogger
from dat_tf.train.checkpoints import CheckpointCallback, RunCheckpointer
from dat_tf.train.config import TrainConfig
from dat_tf.train.strategy import make_strategy, worker_dir
from dat_tf.gan import GAN
from dat_tf.train.export import export, exports_ok
from dat_tf.train.nan_guard import NaNGuard, RolledBack
from dat_tf.train.run_identity import LOCK, RunLock, check_run, not_writable
from dat_tf.train.schedules import LinearDecay
from dat_tf.train.stop_signals import StopRequest, describe


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped :func:`train`; says where the run stands (a ``KeyboardInterrupt``, so it still stops).

    Attributes:
      step: the generator step reached.
      checkpoint_step: the step of the newest checkpoint (``None``: none yet).
      run_dir: the run folder.
      signum: the signal (``signal.SIGINT`` for a plain ``KeyboardInterrupt``).
      saved: the checkpoint written for the signal at ``step`` (``None``: none, e.g. a second Ctrl-C).
    """

    def __init__(self, step: int, checkpoint_step, run_dir: str, signum: int = signal.SIGINT,
                 saved: str | None = None):
        self.step, self.checkpoint_step, self.run_dir = step, checkpoint_step, run_dir
        self.signum, self.saved = signum, saved
        if saved is not None:
            where = f"saved {saved}, where a rerun continues"
        elif checkpoint_step is None:
            where = "no checkpoint was written yet, so a rerun starts from step 0"
        else:
            where = f"the newest checkpoint is at generator step {checkpoint_step}, where a rerun continues"
        super().__init__(
            f"{describe(signum)} at generator step {step} in {run_dir}; {where}. Rerun the same command to resume."
        )


_CKPT_NAME = re.compile(r"ckpt-(\d+)$")


def _newest_checkpoint_step(checkpointer):
    candidates = checkpointer.candidates()
    m = _CKPT_NAME.search(os.path.basename(os.path.normpath(candidates[0]))) if candidates else None
    return int(m.group(1)) if m else None


def build_dataset(cfg: TrainConfig):
    """The ``tf.data`` pipeline of ``n_dis * batch_size`` training batches for ``cfg``."""
    with _maybe_mock(cfg):
        return get_dataset(cfg.dataset).load(
            "train", cfg.batch_size, n_dis=cfg.n_dis, seed=cfg.seed, resolution=cfg.resolution,
            data_dir=cfg.data_dir, download=cfg.download, mixture_std=cfg.mixture_std,
        )


def _maybe_mock(cfg):
    """``tfds.testing.mock_data`` for ``--mock_data`` runs, else nothing."""
    if not cfg.mock_data:
        return contextlib.nullcontext()
    import tensorflow_datasets as tfds

    return tfds.testing.mock_data(num_examples=max(4 * cfg.batch_size * cfg.n_dis, 64), policy=tfds.testing.MockPolicy.USE_CODE)


def data_shape(cfg: TrainConfig):
    """Per-example shape of ``cfg``'s training data."""
    return cfg.data_shape()


def build_nets(cfg: TrainConfig):
    """``(generator, discriminator)`` for ``cfg``."""
    return get_net(cfg.net).build(
        cfg.data_shape(), latent_dim=cfg.latent_dim, width=cfg.width, d_batch_norm=cfg.d_batch_norm,
        d_spectral_norm=cfg.d_spectral_norm, d_sigmoid=cfg.d_sigmoid,
    )


def build_gan(cfg: TrainConfig, strategy=None) -> GAN:
    """A compiled :class:`GAN` for ``cfg``, built inside ``strategy``'s scope.

    ``strategy`` defaults to :func:`dat_tf.train.strategy.make_strategy` of
    ``cfg.strategy``.  Sets the Keras dtype policy to ``cfg.precision``
    (``mixed_float16`` wraps both optimizers in loss scaling).
    """
    cfg.validate()
    if strategy is None:
        strategy = make_strategy(cfg.strategy, cfg.num_devices)
    replicas = strategy.num_replicas_in_sync
    if cfg.batch_size % replicas:
        raise ValueError(
            f"--batch_size={cfg.batch_size} is not divisible by the {replicas} replicas of --strategy={cfg.strategy}: "
            f"each replica takes an equal share of every discriminator step's batch; use a multiple of {replicas}."
        )
    keras.mixed_precision.set_dtype_policy(cfg.precision)
    try:
        with strategy.scope():
            return _build_gan(cfg)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def _build_gan(cfg: TrainConfig) -> GAN:
    keras.utils.set_random_seed(cfg.seed)  # weight initialisation
    g, d = build_nets(cfg)
    if cfg.sync_batch_norm:
        g = synchronize_batch_norm(g)
    reg = cfg.build_regularizer()
    gan = GAN(
        g, d, latent_dim=cfg.latent_dim, loss=cfg.loss, regularizer=reg, n_dis=cfg.n_dis, seed=cfg.seed,
        log_gradient_norms=cfg.log_gradient_norms, diagnostics_every=cfg.log_every, auxiliary=build_auxiliary(cfg),
        d_weight_clip=cfg.d_weight_clip,
    )
    lr_d, lr_g = cfg.lr_d, cfg.lr_g
    if cfg.lr_decay == "linear":
        lr_d = LinearDecay(cfg.lr_d, cfg.n_iter, updates_per_step=cfg.n_dis)
        lr_g = LinearDecay(cfg.lr_g, cfg.n_iter, updates_per_step=1)
    d_opt = keras.optimizers.Adam(lr_d, beta_1=cfg.beta1, beta_2=cfg.beta2)
    g_opt = keras.optimizers.Adam(lr_g, beta_1=cfg.beta1, beta_2=cfg.beta2)
    if cfg.precision == "mixed_float16":
        d_opt, g_opt = keras.optimizers.LossScaleOptimizer(d_opt), keras.optimizers.LossScaleOptimizer(g_opt)
    gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, steps_per_execution=cfg.steps_per_execution, jit_compile=cfg.xla)
    return gan


def synchronize_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose BatchNormalization layers use statistics over all replicas."""

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return layer.__class__.from_config(config)

    return keras.models.clone_model(model, clone_function=clone)


def build_auxiliary(cfg: TrainConfig):
    """The net's auxiliary task (SSGAN's rotations, InfoMax-GAN's InfoMax), or ``None``."""
    make = get_net(cfg.net).auxiliary
    return None if make is None else make()


def real_sample(cfg: TrainConfig, num: int = 2000):
    """Real points for plots (2D datasets only; ``None`` otherwise)."""
    sample = get_dataset(cfg.dataset).sample
    return None if sample is None else sample(num, seed=cfg.seed + 10_000, mixture_std=cfg.mixture_std)


def epoch_plan(done: int, until: int, every: int) -> tuple[int, int]:
    """``(steps_per_epoch, epochs)`` of the next ``fit`` from generator step ``done`` towards ``until``.

    Epochs end on the multiples of ``every`` and at ``until``: a run resumed off a multiple first gets
    the short epoch up to the next one, and a remainder at the end gets its own last epoch.

    >>> epoch_plan(0, 1010, 100), epoch_plan(1000, 1010, 100), epoch_plan(1003, 1300, 100)
    ((100, 10), (10, 1), (97, 1))
    """
    to_next = min(until, (done // every + 1) * every) - done
    if done % every or to_next < every:
        return to_next, 1
    return every, (until - done) // every


def execution_length(steps_per_execution: int, done: int, steps_per_epoch: int, checkpoint_every: int) -> int:
    """The steps per execution of a ``fit`` from generator step ``done``: ``steps_per_execution`` or a divisor.

    Keras runs whole executions and calls callbacks between them: one longer than
    the epoch would overshoot the step count, and a checkpoint can fall only where
    an execution ends.  Executions end at ``done + k * n``; ``n`` divides the epoch,
    ``done`` and ``checkpoint_every``, so every multiple of ``checkpoint_every`` is
    an execution end.

    >>> execution_length(50, 0, 500, 1000), execution_length(50, 0, 50, 10), execution_length(50, 1237, 263, 1000)
    (50, 10, 1)
    """
    return math.gcd(steps_per_execution, steps_per_epoch, checkpoint_every, done)


def train(cfg: TrainConfig, callbacks=(), until: int | None = None, gan: GAN | None = None, dataset=None,
          resume: bool = True, overwrite: bool = False):
    """Trains ``cfg`` (up to generator step ``until``, default ``cfg.n_iter``).

    With ``resume`` (default) and a fresh model, the newest checkpoint in
    ``run_dir/checkpoints`` is restored first and the data stream skipped to
    its step, so rerunning an interrupted command continues it.  Writes
    TensorBoard logs to ``run_dir/logs``, checkpoints every
    ``checkpoint_every`` steps and at the end, ``run_dir/config.json``, and at
    the end ``run_dir/gan.keras`` (the whole model, needs ``dat_tf`` to load),
    ``run_dir/generator.keras`` and ``run_dir/generator_savedmodel`` (a
    TensorFlow SavedModel with a ``serve(z)`` endpoint that loads without
    ``dat_tf`` or Keras: ``tf.saved_model.load(path).serve(z)``).

    With ``cfg.on_nan="restore"`` a NaN/Inf rolls the model back and lowers
    the learning rates (:class:`dat_tf.train.nan_guard.NaNGuard`), and ``fit``
    is called again from the restored step on the data stream skipped to it,
    until ``until`` is reached or the guard gives up (as ``"stop"``).  A given
    ``dataset`` (positioned at the model's step) is then iterated again and
    skipped, so it must yield the same stream every time it is iterated.

    In the main thread, the first Ctrl-C or SIGTERM saves a checkpoint of the
    step reached at the end of the running execution and raises
    :class:`TrainingInterrupted` (:mod:`dat_tf.train.stop_signals`); a second
    one raises it at once.

    The run folder belongs to one run (:mod:`dat_tf.train.run_identity`): the
    chief holds a lock on it for the whole call, ``config.json`` is written
    when the run starts and a rerun with another config is refused (only
    how long / how often may change) unless ``overwrite``, which starts the
    folder over.  A run already at ``until`` trains nothing and repairs
    missing or broken exports from its newest checkpoint.

    Returns:
      ``(gan, history_dict)``: the Keras epochs' logs of every ``fit``, in the
      order they ran (a rolled-back fit's included), and ``wall_time_s``
      (an empty dict when there was nothing to train).
    """
    cfg.validate()
    out_dir = worker_dir(cfg.run_dir)  # run_dir, or run_dir/.worker<i> for non-chief workers
    created = not os.path.exists(out_dir)
    claim = None
    try:
        with RunLock(out_dir) if out_dir == cfg.run_dir else contextlib.nullcontext():
            claim = check_run(cfg, out_dir, overwrite=overwrite)
            return _train(cfg, out_dir, claim, callbacks, until, gan, dataset, resume)
    except BaseException:
        if created and not (claim is not None and claim.committed):
            _remove_unstarted(out_dir)
        raise


def _remove_unstarted(out_dir):
    """Removes a folder this call created when it failed before the run started (nothing in it but the lock)."""
    for root, dirs, files in os.walk(out_dir):
        if any(not (root == out_dir and f == LOCK) for f in files):
            return
    shutil.rmtree(out_dir, ignore_errors=True)


def _largest_saved_step(run_dir) -> int:
    """The largest N of the ``ckpt-N.index`` files in ``run_dir/checkpoints`` (-1 if none)."""
    names = glob.glob(os.path.join(glob.escape(os.path.join(run_dir, "checkpoints")), "ckpt-*.index"))
    steps = [os.path.basename(n)[len("ckpt-"):-len(".index")] for n in names]
    return max((int(s) for s in steps if s.isdigit()), default=-1)


def _train(cfg, out_dir, claim, callbacks, until, gan, dataset, resume):
    fresh = gan is None
    first = None
    if fresh:
        strategy = make_strategy(cfg.strategy, cfg.num_devices)  # before any TensorFlow work (logical devices)
        target = cfg.n_iter if until is None else until
        if dataset is None and not (resume and _largest_saved_step(cfg.run_dir) >= target):
            # Built first, so that a dataset that is not prepared fails before any model work (not for a finished
            # run, whose export repair needs no data).  The same global seed as build_gan's (the stream's
            # shuffles combine it with their own seed): the same stream as the rebuilt ones below.
            keras.utils.set_random_seed(cfg.seed)
            first = build_dataset(cfg)
        gan = build_gan(cfg, strategy)
    checkpointer = RunCheckpointer(gan, os.path.join(out_dir, "checkpoints"), keep=cfg.keep_checkpoints)
    # Every worker resumes from the chief's checkpoints.
    restore_from = checkpointer if out_dir == cfg.run_dir else RunCheckpointer(
        gan, os.path.join(cfg.run_dir, "checkpoints"), keep=cfg.keep_checkpoints
    )
    if fresh and resume and restore_from.has_checkpoints():
        restore_from.restore_latest()  # skips unreadable checkpoints; raises if none loads
        print(f"Resuming {cfg.run_dir}: {restore_from.restore_summary}.", flush=True)
    try:
        claim.commit()  # the run starts: config.json (a new run) or the history of allowed changes
    except OSError as e:
        raise not_writable(out_dir, e) from e
    done = int(keras.ops.convert_to_numpy(gan.g_steps))
    until = cfg.n_iter if until is None else until
    if until <= done:
        if out_dir == cfg.run_dir and not exports_ok(out_dir):
            print(f"{cfg.run_dir}: already at generator step {done}; rewriting its missing or broken exports.",
                  flush=True)
            export(gan, out_dir)
        return gan, {}
    # The stream is deterministic: a fit from generator step s reads it from position s, so a resumed or
    # rolled-back run sees the data an uninterrupted one would.  It is built afresh for each fit: iterating a
    # dataset again would reshuffle it (reshuffle_each_iteration).  A given dataset starts at step `given_at`.
    given_at = done

    def stream_from(step):
        nonlocal first
        if dataset is None:
            ds, first = (build_dataset(cfg) if first is None else first), None  # the one built up front: first fit
            return ds.skip(step) if step else ds
        if step < given_at:
            raise RuntimeError(
                f"the NaN guard restored generator step {step}, before the given dataset's first step "
                f"{given_at}; pass dataset=None so that train() builds the stream from its start."
            )
        return dataset.skip(step - given_at) if step > given_at else dataset

    stream = stream_from(done)
    logger = TensorBoardLogger(
        os.path.join(out_dir, "logs"), sample_every=cfg.sample_every, real_data=real_sample(cfg),
        kind=cfg.sample_kind,
    )
    extra = []
    if cfg.metrics_every:
        from dat_tf.train.metrics_callback import MetricsCallback

        extra.append(
            MetricsCallback(
                os.path.join(out_dir, "logs"), cfg.metrics_every, cfg, classifier=cfg.metrics_classifier,
                num_samples=cfg.metrics_num_samples,
            )
        )
    # One guard for every fit below: its restores count towards max_restores together.
    guard = NaNGuard(checkpointer, out_dir, policy=cfg.on_nan, lr_factor=cfg.nan_lr_factor)
    if cfg.verbose == 1:
        extra.append(ProgressLogger(until))
    merged = {}
    start = time.time()
    try:
        # The first Ctrl-C or SIGTERM saves the step reached at the next execution end, then stops (a signal
        # during the final export waits for it: the run is finished); a second one stops at once.
        with StopRequest() as stop:
            _fit_until(cfg, gan, until, done, stream, stream_from, guard, logger, extra, checkpointer, callbacks,
                       merged, stop)
            merged["wall_time_s"] = [time.time() - start]
            export(gan, out_dir)
    except KeyboardInterrupt as e:
        step = int(keras.ops.convert_to_numpy(gan.g_steps))
        raise TrainingInterrupted(step, _newest_checkpoint_step(checkpointer), cfg.run_dir,
                                  signum=getattr(e, "signum", signal.SIGINT), saved=getattr(e, "path", None)) from None
    return gan, merged


def _fit_until(cfg, gan, until, done, stream, stream_from, guard, logger, extra, checkpointer, callbacks, merged,
               stop):
    # Epochs end on multiples of log_every (and at `until`), whatever `until` and the step resumed from are:
    # one fit per run of equal epochs, one more after each NaN restore (--on_nan=restore).
    while done < until:
        steps_per_epoch, epochs = epoch_plan(done, until, cfg.log_every)
        last = done + steps_per_epoch * epochs >= until
        spe = execution_length(cfg.steps_per_execution, done, steps_per_epoch, cfg.checkpoint_every)
        if gan.steps_per_execution != spe:
            gan.steps_per_execution = spe
            gan.train_function = None  # rebuilt by fit with the new execution length
        history = keras.callbacks.History()  # ours, so that a fit ended by RolledBack keeps its epochs
        rolled_back = False
        try:
            gan.fit(
                # verbose=1 is ProgressLogger's lines (generator steps of n_iter, across resumes), 2 Keras' own.
                stream, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=2 if cfg.verbose == 2 else 0,
                shuffle=False,
                callbacks=[
                    # First, so that on a NaN it acts (raises or restores) before any other callback sees the state.
                    guard, history, logger, *extra,
                    CheckpointCallback(checkpointer, cfg.checkpoint_every, save_at_end=last, stop=stop), *callbacks,
                ],
            )
        except RolledBack:
            rolled_back = True
        for k, v in history.history.items():
            merged.setdefault(k, []).extend(v)
        before, done = done, int(keras.ops.convert_to_numpy(gan.g_steps))
        if not rolled_back and (last or gan.stop_training or done <= before):
            break  # reached `until`, or a callback stopped training (its CheckpointCallback saved)
        stream = stream_from(done)


