"""Runs independent jobs in fresh worker processes, one CPU thread each.

A study on a small machine is many short, independent trainings.  One process
per job (``maxtasksperchild=1``) keeps TensorFlow state from leaking between
runs, and one intra-op thread per process lets ``workers`` runs share the
cores without oversubscribing them.  Timings use :func:`call_in_fresh_process`
instead: one job at a time, with TensorFlow's own thread pools.
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


def call_in_fresh_process(fn, arg, env=None):
    """``fn(arg)`` in a new spawned process that exits (``os._exit``) as soon as it has sent its result.

    For measurements: the caller waits until the process is gone, so nothing
    of one job (not even tearing down its TensorFlow graphs) overlaps the
    next.  ``env`` adds environment variables for the child (e.g.
    ``{"CUDA_VISIBLE_DEVICES": "-1"}``, read before TensorFlow starts).
    ``fn`` must be a module-level function and ``arg`` picklable.
    """
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        proc = ctx.Process(target=_call_and_exit, args=(fn, arg, send))
        proc.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    send.close()
    try:
        status, value = receive.recv()
    except EOFError:
        status, value = "error", "the process ended without a result"
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{fn.__name__}({arg!r}) failed in its process (exit code {proc.exitcode}):\n{value}")
    return value


def _call_and_exit(fn, arg, send):
    import sys
    import traceback

    code = 0
    try:
        send.send(("ok", fn(arg)))
    except BaseException:  # noqa: BLE001 - reported to the parent
        send.send(("error", traceback.format_exc()[-5000:]))
        code = 1
    send.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip tearing down TensorFlow's graphs and functions (tens of seconds for big models)
