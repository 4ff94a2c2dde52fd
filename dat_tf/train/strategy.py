"""Choosing and configuring the ``tf.distribute`` strategy of a run.

The same command runs on one device, on all GPUs of a machine
(``MirroredStrategy``), on several machines (``MultiWorkerMirroredStrategy``,
configured from the ``TF_CONFIG`` environment variable) or on a TPU.  The GAN
model is built inside the strategy's scope and ``fit`` splits every global
batch (``n_dis * batch_size``) over the replicas; the model divides its losses
by the replica count and all batch statistics of DAT and the regularizers are
all-reduced (:mod:`dat_tf.replicas`), so a run's numbers do not depend on
the replica count.

Multi-worker runs: the chief (worker 0, or the ``chief`` task) writes the run
directory; the other workers write their logs and exports to
``run_dir/.worker<i>`` (TensorFlow's recommended pattern, since every worker
must take part in saving), and every worker restores from the chief's
checkpoints, so a restarted worker resumes from the last checkpoint with the
others (the run directory must be on a file system all workers share).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf


def tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {raw[:200]!r}") from None


def is_chief() -> bool:
    """Whether this process writes the run directory (True outside multi-worker runs)."""
    task = tf_config().get("task", {})
    kind, index = task.get("type"), task.get("index", 0)
    if kind is None:
        return True
    has_chief = "chief" in tf_config().get("cluster", {})
    return kind == "chief" or (not has_chief and kind == "worker" and index == 0)


def worker_dir(run_dir: str) -> str:
    """Where this process writes: ``run_dir`` for the chief, ``run_dir/.worker<i>`` otherwise."""
    if is_chief():
        return run_dir
    task = tf_config().get("task", {})
    return os.path.join(run_dir, f".{task.get('type', 'worker')}{task.get('index', 0)}")


def _split_cpu(n: int):
    cpus = tf.config.list_physical_devices("CPU")
    configured = tf.config.get_logical_device_configuration(cpus[0])  # does not start the runtime
    if configured and len(configured) >= n:
        return
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:  # the runtime has started: fine if it already has enough devices
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) >= n:
            return
        raise ValueError(
            f"--num_devices={n} needs the CPU split into {n} logical devices before TensorFlow starts; "
            f"it already runs with {len(logical)}. Start a fresh process."
        ) from None


_MIRRORED: dict = {}


def make_strategy(name: str = "default", num_devices: int = 0) -> tf.distribute.Strategy:
    """The strategy called ``name`` (see :data:`dat_tf.train.config.STRATEGIES`).

    ``mirrored`` uses all local GPUs; without GPUs it mirrors over
    ``num_devices`` logical CPU devices (``num_devices`` 0 or 1: one CPU).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            devices = [f"/gpu:{i}" for i in range(num_devices or len(gpus))]
        else:
            n = max(num_devices, 1)
            _split_cpu(n)
            devices = [f"/cpu:{i}" for i in range(n)]
        # One strategy per device set and process: several MirroredStrategy objects over the same
        # devices in one process can collide in their collective-op keys.
        key = tuple(devices)
        if key not in _MIRRORED:
            _MIRRORED[key] = tf.distribute.MirroredStrategy(devices)
        return _MIRRORED[key]
    if name == "multi_worker":
        cfg = tf_config()
        if not cfg.get("cluster"):
            raise ValueError(
                "--strategy=multi_worker needs TF_CONFIG, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"--strategy={name!r} is not allowed; expected default, mirrored, multi_worker or tpu")
