"""Runs independent jobs in fresh worker processes, one CPU thread each.

A study on a small machine is many short, independent trainings.  One process
per job (``maxtasksperchild=1``) keeps TensorFlow state from leaking between
runs, and one intra-op thread per process lets ``workers`` runs share the
cores without oversubscribing them.
"""

from __future__ import annotations

import multiprocessing as mp
import os


def limit_threads():
    """One TensorFlow thread per process (call first thing in a worker)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised (e.g. workers=1 inside a test process)
        pass


def map_processes(fn, jobs, workers: int = 2):
    """``[fn(job) for job in jobs]``, in ``workers`` spawned processes (in-process for 1).

    ``fn`` must be a module-level function and ``jobs`` picklable.  Results come
    back in the order of ``jobs``.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}.")
    jobs = list(jobs)
    if workers == 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    with mp.get_context("spawn").Pool(min(workers, len(jobs)), maxtasksperchild=1) as pool:
        return pool.map(fn, jobs, chunksize=1)
