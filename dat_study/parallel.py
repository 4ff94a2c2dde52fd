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


def map_processes(fn, jobs, workers: int = 2, progress=None):
    """``[fn(job) for job in jobs]``, in ``workers`` spawned processes (in-process for 1).

    ``fn`` must be a module-level function and ``jobs`` picklable.  Results come
    back in the order of ``jobs``.  ``progress(done, total, job, seconds, result)``,
    if given, is called in this process each time a job finishes (in the order
    they finish), ``seconds`` since the first job started.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}.")
    import time

    jobs = list(jobs)
    start = time.time()
    if workers == 1 or len(jobs) <= 1:
        out = []
        for i, j in enumerate(jobs):
            out.append(fn(j))
            if progress:
                progress(i + 1, len(jobs), j, time.time() - start, out[-1])
        return out
    out = [None] * len(jobs)
    with mp.get_context("spawn").Pool(min(workers, len(jobs)), maxtasksperchild=1) as pool:
        for done, (i, result) in enumerate(pool.imap_unordered(_indexed, [(fn, i, j) for i, j in enumerate(jobs)]), 1):
            out[i] = result
            if progress:
                progress(done, len(jobs), jobs[i], time.time() - start, result)
    return out


def _indexed(args):
    fn, i, job = args
    return i, fn(job)


def eta_line(done: int, total: int, seconds: float, reused: int = 0) -> str:
    """``"3/24 done, 1.2 min elapsed, about 8.5 min left"``: the rate of the runs trained so far times the jobs left.

    ``reused`` of the ``done`` jobs were stored results (they take no time), so they do not enter the rate, and
    the jobs left are assumed to train: a resumed study does not promise minutes it will not keep.

    >>> eta_line(3, 24, 72.0)
    '3/24 done, 1.2 min elapsed, about 8.4 min left'
    >>> eta_line(3, 24, 72.0, reused=2)
    '3/24 done (2 reused), 1.2 min elapsed, about 25.2 min left'
    """
    trained = done - reused
    head = f"{done}/{total} done" + (f" ({reused} reused)" if reused else "") + f", {seconds / 60:.1f} min elapsed"
    if done == total:
        return head + ", about 0.0 min left"
    if trained <= 0:
        return head + ", time left known after the first trained run"
    return head + f", about {seconds / trained * (total - done) / 60:.1f} min left"


class ProgressCount:
    """The end of a progress line per finished job: ``"finished; 3/24 done, ..."`` or ``"reused; ..."`` (a stored
    result: a dict with ``"reused": True``), counting the reused jobs so that :func:`eta_line` leaves them out."""

    def __init__(self):
        self.reused = 0

    def line(self, done: int, total: int, seconds: float, result) -> str:
        reused = isinstance(result, dict) and bool(result.get("reused"))
        self.reused += reused
        return f"{'reused' if reused else 'finished'}; {eta_line(done, total, seconds, self.reused)}"


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
