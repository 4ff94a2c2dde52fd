"""The study's finished runs, kept beside the page so that a study spans sessions and machines.

Why: a run's folder (``runs/``, ignored by git) holds checkpoints and logs that a fresh checkout
does not have; a study of ~30 CPU hours must survive the loss of that folder.  Each finished run's
summary (``result.json``, or ``figure3_result.json`` for a mixture run: a few kB to a few MB) is
copied, gzipped, to ``<out_dir>/results/runs/<the run's path under runs_dir>.gz`` as soon as it
finishes (:func:`save`, called by the study's progress lines), and :func:`restore` puts the
archived summaries back into ``runs_dir`` before a section runs, where the runner's reuse rule
(same spec, else train afresh) applies to them as to any finished run.  With ``--out_dir=docs``
the archive is committed with the page, so every number on the page traces to a run's file in
the repository.

Example::

    opts = StudyOptions(out_dir="docs")
    restore(opts)   # before running: the committed runs count as finished
    ...             # train
    save(opts)      # after each finished run: its summary joins the archive
"""

from __future__ import annotations

import gzip
import os
import shutil

from dat_study.runner import RESULT

RESULT_FILES = (RESULT, "figure3_result.json")  # the runner's and the mixture runs' summaries


def archive_dir(opts) -> str:
    """Where ``opts``' finished runs are archived: ``<out_dir>/results/runs``."""
    return os.path.join(opts.artefacts, "runs")


def _finished(runs_dir):
    """``relative path`` of every run summary under ``runs_dir``."""
    for root, dirs, files in os.walk(runs_dir):
        dirs[:] = [d for d in dirs if d not in ("checkpoints", "logs", "samples")]
        for name in files:
            if name in RESULT_FILES:
                yield os.path.relpath(os.path.join(root, name), runs_dir)


def save(opts) -> int:
    """Archives every finished run under ``opts.runs_dir`` not archived yet (or changed); returns how many."""
    if not os.path.isdir(opts.runs_dir):
        return 0
    out = archive_dir(opts)
    n = 0
    for rel in _finished(opts.runs_dir):
        src, dst = os.path.join(opts.runs_dir, rel), os.path.join(out, rel + ".gz")
        if os.path.isfile(dst) and os.stat(dst).st_mtime_ns >= os.stat(src).st_mtime_ns:
            continue  # archived after the summary was last written: nothing to read again
        with open(src, "rb") as f:
            data = f.read()
        if os.path.isfile(dst):
            with gzip.open(dst, "rb") as f:
                if f.read() == data:
                    continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = dst + ".tmp"
        with gzip.GzipFile(tmp, "wb", mtime=0) as f:  # mtime 0: the same run gives the same bytes
            f.write(data)
        os.replace(tmp, dst)
        n += 1
    return n


def restore(opts) -> int:
    """Puts archived run summaries back into ``opts.runs_dir`` where that run has none; returns how many."""
    src_root = archive_dir(opts)
    if not os.path.isdir(src_root):
        return 0
    n = 0
    for root, _, files in os.walk(src_root):
        for name in files:
            if not name.endswith(".gz") or name[:-3] not in RESULT_FILES:
                continue
            rel = os.path.relpath(os.path.join(root, name), src_root)[:-3]
            dst = os.path.join(opts.runs_dir, rel)
            if os.path.isfile(dst):
                continue  # the run folder's own summary wins (it may be newer)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with gzip.open(os.path.join(root, name), "rb") as f, open(dst + ".tmp", "wb") as g:
                shutil.copyfileobj(f, g)
            os.replace(dst + ".tmp", dst)
            n += 1
    return n
