"""Per-iteration time of each regularizer relative to ``none``, measured side by side.

One iteration = one ``GAN.train_step`` (``n_dis`` D steps and one G step) run
through the model's own compiled train function (the one ``fit`` calls, with
``steps_per_execution=1``), built by :func:`dat_tf.train.loop.build_gan` from a
:class:`dat_tf.train.config.TrainConfig`: graph mode (``tf.function``) by default,
XLA with ``xla=True``, replicated with ``strategy="mirrored"``.  Diagnostics
(gradient-norm logging) are off so that only the regularizer's own cost
differs.  All configurations of a comparison are built first, then timed in
interleaved rounds (A B C A B C ...), so that machine-load drift hits every
one alike; the reported time is the median over rounds and ratios are taken
within the same run.

This is the measuring code of ``benchmarks/step_time.py`` and
``benchmarks/run_all.py`` (:func:`gan_config`, :func:`make_runner`,
:func:`interleaved`, :func:`time_side_by_side`, :func:`step_entry`,
:func:`step_table`: each net in a fresh process).  The study's cost section
(``dat_study/cost.py``) reads the step table ``run_all.py`` stores; it does not
import this module (the study does not depend on the benchmarks).

Example (a minute on a CPU)::

    times = measure("mlp", ["none", "dat"], rounds=3, steps=20)
    print(times["dat"] / times["none"])   # DAT's cost relative to no regularization
"""

from __future__ import annotations

import time

import numpy as np

from dat_study.parallel import call_in_fresh_process

REGULARIZERS = ("none", "gp", "zero_gp", "asgan", "dat", "datt")

# name: TrainConfig fields of the benchmarked setting (nets at their default widths).
NETS = {
    # 2D toy: 4x64 MLPs, batch 256.
    "mlp": dict(dataset="mixture_balanced", net="mlp", latent_dim=2, batch_size=256, n_dis=1, loss="ns"),
    # DCGAN-32 (width 64, BatchNorm D), 32x32x3, batch 64, n_dis 1, non-saturating loss.
    "dcgan32": dict(dataset="cifar10", net="dcgan", latent_dim=100, batch_size=64, n_dis=1, loss="ns"),
    # mimicry's SNGAN-32 (ngf 256, ndf 128), batch 64, n_dis 5, hinge loss.
    "sngan32": dict(dataset="cifar10", net="sngan", latent_dim=128, batch_size=64, n_dis=5, loss="hinge"),
}
# The step table (benchmarks/README.md table 1, the study's cost section): nets, rounds, steps per round, warm-up.
STEP_NETS = ("sngan32", "dcgan32")
ROUNDS, QUICK_ROUNDS = 5, 2
STEPS = {"sngan32": 1, "dcgan32": 5, "mlp": 200}
WARMUP = {"sngan32": 1, "dcgan32": 1, "mlp": 1}  # plus one untimed round (interleaved)
# --quick: shrunken nets (SNGAN with n_dis 1: tracing five unrolled D steps alone takes ~30 s per model).
QUICK_OVERRIDES = {
    "sngan32": dict(width=16, batch_size=16, n_dis=1),
    "dcgan32": dict(width=8, batch_size=16),
    "mlp": dict(batch_size=64),
}

# Timed models are parked here: destroying TensorFlow functions and graphs takes seconds to minutes, so a
# timing process keeps them until it ends (with os._exit, see parallel.call_in_fresh_process).
_KEEP_ALIVE = []


def gan_config(net: str, regularizer: str, **overrides):
    """The benchmark's :class:`TrainConfig` for ``net`` (a key of :data:`NETS`) and ``regularizer``."""
    from dat_tf.train.config import TrainConfig

    if net not in NETS:
        raise ValueError(f"net={net!r} is not a benchmarked net; expected one of {sorted(NETS)}.")
    fields = dict(NETS[net], regularizer=regularizer, log_gradient_norms=False, steps_per_execution=1, verbose=0,
                  seed=0)
    fields.update(overrides)
    return TrainConfig(**fields).validate()


class Runner:
    """A built and warmed-up GAN; ``runner(n)`` runs ``n`` train steps and returns the last ``d_loss``.

    Attributes: ``cfg``, ``gan``, ``build_s`` (building and compiling the
    model), ``warmup_s`` (the first steps: tracing, and XLA compilation).
    """

    def __init__(self, cfg, strategy=None, warmup: int = 2):
        import tensorflow as tf

        from dat_tf.train.loop import build_gan, data_shape

        self.cfg = cfg
        t = time.perf_counter()
        self.gan = build_gan(cfg, strategy) if strategy is not None else build_gan(cfg)
        self.build_s = time.perf_counter() - t
        shape = data_shape(cfg)
        x = np.random.default_rng(0).uniform(-1, 1, (cfg.n_dis * cfg.batch_size, *shape)).astype("float32")
        dataset = tf.data.Dataset.from_tensors(x).repeat()  # one global batch of n_dis * batch_size, forever
        self._iterator = iter(self.gan.distribute_strategy.experimental_distribute_dataset(dataset))
        self._dataset = dataset
        self._setup()
        t = time.perf_counter()
        if warmup:
            self(warmup)
        self.warmup_s = time.perf_counter() - t

    def _setup(self):
        self.gan.make_train_function()
        self._step = self.gan.train_function

    @property
    def replicas(self) -> int:
        return int(self.gan.distribute_strategy.num_replicas_in_sync)

    def __call__(self, n: int) -> float:
        for _ in range(n):
            out = self._step(self._iterator)
        return float(out["d_loss"])  # forces completion


class FitRunner(Runner):
    """The command line's path: one long ``gan.fit`` with the callbacks ``bin/train.py`` adds, paced step by step.

    ``fit`` runs in a background thread with the NaN guard, the TensorBoard
    logger, the progress line (to ``os.devnull``) and the checkpoint callback,
    epochs of ``cfg.log_every`` steps, as :func:`dat_tf.train.loop.train`
    calls it, in a scratch run folder.  A last callback holds each step at its
    start until ``runner(n)`` lets ``n`` steps run, so only one model computes
    at a time and ``fit``'s set-up and the epoch-end work come as often as on
    the command line (once per ``log_every`` steps; :meth:`epoch_end_s` times
    the latter).  One step per execution (the command line runs
    ``cfg.steps_per_execution``: fewer Python round trips, so this is an upper
    bound).  The data are the benchmark's fixed batch, not the input pipeline
    (measured apart).
    """

    def __init__(self, cfg, run_dir: str, warmup: int = 2):
        self.run_dir = run_dir
        super().__init__(cfg, warmup=warmup)

    def _make_callbacks(self) -> list:
        """The callbacks ``bin/train.py`` adds (the NaN guard, the logger, the progress line, checkpoints)."""
        import os

        from dat_tf.train.callbacks import ProgressLogger, TensorBoardLogger
        from dat_tf.train.checkpoints import CheckpointCallback, RunCheckpointer
        from dat_tf.train.nan_guard import NaNGuard

        cfg = self.cfg
        checkpointer = RunCheckpointer(self.gan, os.path.join(self.run_dir, "checkpoints"), keep=cfg.keep_checkpoints)
        self._devnull = open(os.devnull, "w")
        return [
            NaNGuard(checkpointer, self.run_dir, policy=cfg.on_nan, lr_factor=cfg.nan_lr_factor),
            TensorBoardLogger(os.path.join(self.run_dir, "logs"), sample_every=cfg.sample_every, kind=cfg.sample_kind),
            ProgressLogger(cfg.n_iter, stream=self._devnull),
            CheckpointCallback(checkpointer, cfg.checkpoint_every, save_at_end=False),
        ]

    def _setup(self):
        import threading

        import keras

        self._callbacks = self._make_callbacks()

        class Stop(Exception):
            pass

        class Pacer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.go, self.done = threading.Semaphore(0), threading.Semaphore(0)
                self.n = self.left = 0
                self.started = self.stop = False
                self.logs = self.error = None

            def on_train_batch_begin(self, batch, logs=None):
                if self.left == 0:
                    if self.started:
                        self.done.release()  # the previous round's steps, their batch-end hooks included
                    self.started = True
                    self.go.acquire()
                    if self.stop:
                        raise Stop
                    self.left = self.n
                self.left -= 1

            def on_train_batch_end(self, batch, logs=None):
                self.logs = dict(logs or {})

        self._stop_type, self._pacer_type, self._pacer, self._thread, self._epoch = Stop, Pacer, None, None, 0

    def _start(self):
        import threading

        if self.gan.steps_per_execution != 1:
            self.gan.steps_per_execution = 1
            self.gan.train_function = None
        pacer = self._pacer = self._pacer_type()  # fresh semaphores for each fit

        def fit():
            try:
                self.gan.fit(self._dataset, steps_per_epoch=self._epoch_steps(), epochs=2**31 - 1, verbose=0,
                             shuffle=False, callbacks=[*self._callbacks, pacer])
            except self._stop_type:
                pass
            except BaseException as e:  # noqa: BLE001 - handed to the caller of __call__
                pacer.error = e
            finally:
                pacer.done.release()

        self._thread = threading.Thread(target=fit, daemon=True)
        self._thread.start()

    def _epoch_steps(self) -> int:
        return self.cfg.log_every  # the command line's epochs

    def close(self):
        """Ends the running ``fit`` (its thread waits at the start of the next step)."""
        if self._thread is not None:
            self._pacer.stop = True
            self._pacer.go.release()
            self._thread.join()
            self._thread = None

    def __call__(self, n: int) -> float:
        if self._thread is None:
            self._start()
        pacer = self._pacer
        pacer.n = n
        pacer.go.release()
        pacer.done.acquire()
        if pacer.error is not None:
            error, pacer.error = pacer.error, None
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"the command line's fit stopped: {error!r}") from error
        return float(pacer.logs["d_loss"])

    def epoch_end_s(self) -> float:
        """Seconds of one epoch end of the command line's callbacks (the NaN guard's state snapshot, the
        logger's scalars, the progress line, the checkpoint check), called once while ``fit`` waits."""
        self._epoch += 1
        t = time.perf_counter()
        for callback in self._callbacks:
            callback.on_epoch_end(self._epoch, logs=dict(self._pacer.logs or {}))
        return time.perf_counter() - t


class KerasFitRunner(FitRunner):
    """A Keras user's path: ``GAN(...)`` with its defaults in a plain ``gan.fit``, paced step by step.

    The model is built as the command line builds it, then given ``GAN``'s own default
    ``diagnostics_every="epoch"`` (gradient-norm diagnostics once per ``fit`` epoch); ``fit`` runs
    with no callbacks of ours and epochs of ``steps_per_epoch`` iterations (a Keras user's epoch of
    the data), so the row shows what ``model.fit`` costs a user who keeps the defaults.
    """

    def __init__(self, cfg, steps_per_epoch: int, warmup: int = 2):
        self.steps_per_epoch = int(steps_per_epoch)
        super().__init__(cfg, run_dir="", warmup=warmup)

    def _make_callbacks(self) -> list:
        self.gan.diagnostics_every = "epoch"  # GAN(...)'s default, whatever the config's log_every
        return []

    def _epoch_steps(self) -> int:
        return self.steps_per_epoch


def make_runner(cfg, strategy=None, warmup: int = 2) -> Runner:
    return Runner(cfg, strategy, warmup)


def cli_config(flagfile: str, run_dir: str, **overrides):
    """The :class:`TrainConfig` ``bin/train.py --flagfile=<flagfile>`` runs (its defaults included), in ``run_dir``."""
    from dat_tf.train.config import TrainConfig

    return TrainConfig.from_flagfile(flagfile, run_dir=run_dir, **overrides).validate()


def interleaved(runners: dict, rounds: int, steps: int, untimed_rounds: int = 1) -> dict:
    """Seconds per step of each runner in each round: ``{key: [s_round1, s_round2, ...]}``.

    Each round runs every runner ``steps`` times, one runner after the other.
    ``untimed_rounds`` rounds of one step each run first: building a model
    (``keras.utils.set_random_seed``, i.e. ``tf.random.set_seed``) clears
    TensorFlow's kernel caches, so every model built before the last one pays
    its function instantiation (Grappler, XLA) again on its next step.
    """
    for _ in range(untimed_rounds):
        for run in runners.values():
            run(1)
    times = {k: [] for k in runners}
    for _ in range(rounds):
        for k, run in runners.items():
            t = time.perf_counter()
            run(steps)
            times[k].append((time.perf_counter() - t) / steps)
    return times


def medians(times: dict) -> dict:
    return {k: float(np.median(v)) for k, v in times.items()}


def measure(net, regs, rounds, steps, **overrides):
    """Median seconds per step of each regularizer in ``regs`` on ``net``, timed side by side."""
    runners = {r: make_runner(gan_config(net, r, **overrides)) for r in regs}
    return medians(interleaved(runners, rounds, steps))


def time_side_by_side(cfgs: dict, rounds: int, steps: int, warmup: int, on_built=None):
    """Builds a runner per config of ``cfgs`` (any keys), times them in interleaved rounds.

    The runners are kept alive for the rest of the process (see ``_KEEP_ALIVE``).

    Args:
      on_built: called as ``on_built(key, runner)`` after each model's first steps (for progress lines).

    Returns:
      ``(runners, results)`` with ``results[key]`` the median, the per-round
      seconds, and the build and first-call seconds.
    """
    runners = {}
    for key, cfg in cfgs.items():
        runners[key] = make_runner(cfg, warmup=warmup)
        if on_built is not None:
            on_built(key, runners[key])
    _KEEP_ALIVE.append(runners)
    times = interleaved(runners, rounds, steps)
    med = medians(times)
    results = {key: {"median_s": med[key], "round_s": times[key], "build_s": runners[key].build_s,
                     "warmup_s": runners[key].warmup_s} for key in runners}
    return runners, results


def net_settings(cfg) -> dict:
    """What a table says about a config's net."""
    width = cfg.width or None
    if cfg.net == "sngan":
        widths = f"ngf=ndf={width}" if width else "ngf 256, ndf 128 (mimicry)"
    else:
        widths = f"width {width or 64}"
    return {"net": cfg.net, "widths": widths, "batch_size": cfg.batch_size, "n_dis": cfg.n_dis, "loss": cfg.loss,
            "latent_dim": cfg.latent_dim}


def versions() -> dict:
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "gpus": len(tf.config.list_physical_devices("GPU"))}


def step_entry(net, regs, rounds, steps, warmup, overrides=None, on_built=None) -> dict:
    """One net of the step table: ``{"settings", "steps", "results": {reg: {...}}}``, timed side by side."""
    regs = list(regs)
    cfgs = {r: gan_config(net, r, **(overrides or {})) for r in regs}
    _, results = time_side_by_side(cfgs, rounds, steps, warmup, on_built)
    return {"settings": net_settings(cfgs[regs[0]]), "steps": steps, "results": results}


def step_table(quick: bool = False, nets=STEP_NETS, regs=REGULARIZERS) -> dict:
    """The step table (``{"nets", "rounds", "versions"}``, as in benchmarks/results.json), each net in a fresh process.

    CPU only (GPUs hidden), TensorFlow's default thread pools, one net at a
    time; ``quick`` shrinks the nets and rounds (numbers meaningless).
    """
    rounds = QUICK_ROUNDS if quick else ROUNDS
    out = {"nets": {}, "rounds": rounds, "versions": None}
    for net in nets:
        job = (net, tuple(regs), rounds, 1 if quick else STEPS[net], 1 if quick else WARMUP[net],
               dict(QUICK_OVERRIDES[net]) if quick else {})
        entry, out["versions"] = call_in_fresh_process(_step_job, job, env={"CUDA_VISIBLE_DEVICES": "-1"})
        out["nets"][net] = entry
    return out


def _step_job(job):
    net, regs, rounds, steps, warmup, overrides = job
    return step_entry(net, regs, rounds, steps, warmup, overrides), versions()
