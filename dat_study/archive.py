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

A section's JSON does not copy what the archive holds: :func:`link` replaces a run record's training logs
and correctness measurements by a pointer to the archived summary they came from (when they equal it),
and :func:`resolve` puts them back when the section is read (:func:`dat_study.common.load_section`).
One copy of each run's logs, then, and a section file of a few hundred kB instead of several MB.

Example::

    opts = StudyOptions(out_dir="docs")
    restore(opts)   # before running: the committed runs count as finished
    ...             # train
    save(opts)      # after each finished run: its summary joins the archive
"""

from __future__ import annotations

import gzip
import json
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


# ------------------------------------------------------------------ section records that point into the archive

POINTER = "$archived"  # {"$archived": <summary, relative to the archive>, "keys": <the logs' columns kept> or absent}
LINKED_FIELDS = ("logs", "correctness")  # what a run record may take from its archived summary: the bulk of it


def summary_of(opts, run_dir) -> str | None:
    """Where the run in ``run_dir`` has its summary in the archive (relative to :func:`archive_dir`), or None for a
    folder outside ``opts.runs_dir``: the path :func:`save` writes and a section's pointer names."""
    rel = os.path.relpath(run_dir, opts.runs_dir)
    return None if rel.startswith("..") else os.path.join(rel, RESULT + ".gz")


def _read(path, cache):
    if path not in cache:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            cache[path] = json.load(f)
    return cache[path]


def _project(rows, keys):
    return rows if keys is None else [{k: row.get(k) for k in keys} for row in rows]


def _same(a, b) -> bool:
    return json.dumps(a) == json.dumps(b)  # NaN equals NaN here, as it does in the file


def link(opts, obj):
    """A copy of section data ``obj`` whose run records point to their archived summaries for the bulky fields.

    A run record is a dict with a ``run_dir`` under ``opts.runs_dir`` whose summary is archived; each of its
    :data:`LINKED_FIELDS` that equals the summary's (for logs: or the summary's logs cut to the record's columns)
    becomes ``{"$archived": path, "keys": columns}``.  Anything else is kept as it is, so a record whose run
    is not archived, or differs from it, loses nothing.
    """
    root, cache = archive_dir(opts), {}

    def visit(o):
        if isinstance(o, list):
            return [visit(x) for x in o]
        if not isinstance(o, dict):
            return o
        out = {k: visit(v) for k, v in o.items()}
        run_dir = o.get("run_dir")
        if not isinstance(run_dir, str) or not any(isinstance(o.get(f), (list, dict)) for f in LINKED_FIELDS):
            return out
        rel = summary_of(opts, run_dir)
        if rel is None or not os.path.isfile(os.path.join(root, rel)):
            return out
        summary = _read(os.path.join(root, rel), cache)
        for field in LINKED_FIELDS:
            value = o.get(field)
            if not value or field not in summary:
                continue
            keys = None
            if field == "logs" and isinstance(value, list) and isinstance(value[0], dict) and summary[field] and set(
                    value[0]) != set(summary[field][0]):
                keys = list(value[0])
            if _same(value, _project(summary[field], keys)):
                out[field] = {POINTER: rel, **({} if keys is None else {"keys": keys})}
        return out

    return visit(obj)


def resolve(opts, obj, source="the section"):
    """``obj`` with every pointer :func:`link` left replaced by what it points to.

    Raises:
      FileNotFoundError: an archived summary a pointer names is missing (it names the file and the section).
    """
    root, cache = archive_dir(opts), {}

    def visit(o, field=None):
        if isinstance(o, list):
            return [visit(x) for x in o]
        if not isinstance(o, dict):
            return o
        if POINTER in o:
            path = os.path.join(root, o[POINTER])
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{source} takes a run's {field} from {path}, which is missing: restore the "
                                        f"archive (git checkout {root}) or rerun the section.")
            return _project(_read(path, cache)[field], o.get("keys"))
        return {k: visit(v, k) for k, v in o.items()}

    return visit(obj)
