"""The reproduction study: every claim of the paper rerun at CPU scale (``python bin/results.py``).

:data:`SECTIONS` is the study: one :class:`Section` per claim, in page order,
each pointing at the module that runs it and writes its part of the page.
:func:`run_sections` runs some of them (training in worker processes, see
:mod:`dat_study.parallel`) and stores each one's numbers in
``<out_dir>/results/<name>.json``; :func:`dat_study.render.render_page`
turns whatever section files exist into ``<out_dir>/results.md``.  A new
section is a module with ``run_section`` and ``section_markdown`` and one entry
here.

Verdicts follow the fixed rules of :mod:`dat_study.stats` and :mod:`dat_study.verdicts`.  The
miniature sizes are in :class:`StudyOptions`; ``quick_options()`` shrinks
everything to a smoke run of a few minutes whose numbers mean nothing.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import time
from typing import Callable

from dat_study import archive, cost, figure1, figure3, figures45, lipschitz, pilot, table3, tables12
from dat_study.common import StudyOptions, quick_options, write_section  # noqa: F401  (the study's API)
from dat_study.paper import CLAIMS


def stored_wall_time(sec):
    """``(seconds, note)`` of a stored section for the page: the time it took.

    A section that restored some of its runs (a pass that resumed an earlier one, or runs from the archive) took
    longer than its last pass: it shows the sum of its runs' own training times instead, and says so.
    """
    runs = [r for r in sec.get("data", {}).get("runs", []) if isinstance(r, dict)]
    reused = sum(1 for r in runs if r.get("reused"))
    timed = [r["seconds"] for r in runs if r.get("seconds") is not None]
    if not reused or not timed:
        return sec["seconds"], ""
    return sum(timed), (f" (the sum of its {len(timed)} runs' own training times, one core each"
                        + (f"; {len(runs) - len(timed)} without a time" if len(timed) < len(runs) else "")
                        + f"; its last pass took {sec['seconds'] / 60:.1f} min and reused {reused} stored runs)")


def stored_date(sec):
    """When a stored section was measured: the span of its runs' own dates (each run stores when it finished), else
    the date the section was written."""
    runs = [r for r in sec.get("data", {}).get("runs", []) if isinstance(r, dict)]
    dates = sorted(r["date"] for r in runs if r.get("date"))
    undated = sum(1 for r in runs if not r.get("date"))
    if not dates:
        return sec["date"] + (f" ({undated} runs without a date of their own)" if undated else "")
    span = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    versions = sorted({r.get("code_version") for r in runs if r.get("code_version")})
    out = f"runs {span}" + (f", code {', '.join(versions)}" if versions else "")
    return out + (f" ({undated} runs without a date of their own)" if undated else "")


def lipschitz_date(sec):
    return f"{sec['date']} (the table3 runs' logs)"


def cost_date(sec):
    return sec["data"].get("date") or "not stored"


@dataclasses.dataclass(frozen=True)
class Section:
    """One claim of the paper, rerun.

    Args:
      title: the page's heading.
      claim: the paper's claim, in its terms (:data:`dat_study.paper.CLAIMS`).
      command: the command that reruns this section; ``{results}`` stands for
        the ``bin/results.py`` command line of the page being written.
      full_command: how to run it at the paper's scale.
      run: ``run(opts) -> dict``, the section's numbers (stored as JSON).
      markdown: ``markdown(opts, stored) -> (lines, claims, overall verdict)``; the claims are
        :class:`dat_study.verdicts.Claim` s (or plain lines for a section without one).
      wall_time: ``wall_time(stored) -> (seconds or None, note)`` for the page.
      measured: ``measured(stored) -> str``, the date of the measurement (not of the page).
    """

    title: str
    claim: str
    command: str
    full_command: str
    run: Callable
    markdown: Callable
    wall_time: Callable = stored_wall_time
    measured: Callable = stored_date


SECTIONS = {
    "pilot": Section(
        title="The pilot: how long each family trains",
        claim=CLAIMS["pilot"],
        command="{results} --sections=pilot",
        full_command="the same rule on the full-scale curves: each flagfile's --metrics_every curve",
        run=pilot.run_section, markdown=pilot.section_markdown, wall_time=pilot.wall_time,
    ),
    "figure3": Section(
        title="Figure 3: 2D Gaussian mixtures",
        claim=CLAIMS["figure3"],
        command="{results} --sections=figure3",
        full_command="python bin/figure3.py --methods=none,dat,dat_reference   # already the paper's scale (CPU is enough)",
        run=figure3.run_section, markdown=figure3.section_markdown,
    ),
    "figure1": Section(
        title="Figure 1: attack iterations K",
        claim=CLAIMS["figure1"],
        command="{results} --sections=figure1   (trains both arms and attacks them)",
        full_command="python bin/train.py --flagfile=configs/dcgan_cifar10_lr0.0002_b0.5_it1.flags --d_batch_norm=false "
                     "(and its _dat twin), then python bin/attack.py --run_dir=runs/dcgan_cifar10_lr0.0002_b0.5_it1",
        run=figure1.run_section, markdown=figure1.section_markdown,
    ),
    "table3": Section(
        title="Table 3 in miniature: 3 losses x the regularizers, on the paper's D (each loss at its pilot's reading)",
        claim=CLAIMS["table3"],
        command="{results} --sections=table3",
        full_command="for f in configs/table3_*.flags; do python bin/train.py --flagfile=$f "
                     "--metrics_every=10000 --metrics_classifier=inception; done",
        run=table3.run_section, markdown=table3.section_markdown,
    ),
    "figures45": Section(
        title="Figures 4 and 5 in miniature: DCGAN and WGAN over hyperparameters",
        claim=CLAIMS["figures45"],
        command="{results} --sections=figures45",
        full_command="for f in configs/dcgan_cifar10_*.flags configs/wgan_cifar10_*.flags; do python bin/train.py "
                     "--flagfile=$f --metrics_every=2500 --metrics_classifier=inception; done",
        run=figures45.run_section, markdown=figures45.section_markdown,
    ),
    "lipschitz": Section(
        title="Section 4.3: DAT and the discriminator's Lipschitz behaviour",
        claim=CLAIMS["lipschitz"],
        command="{results} --sections=table3,lipschitz   (reads the table3 runs' logs)",
        full_command="any run above: TensorBoard tags grad_norm_real, grad_norm_fake, lipschitz_sn_product",
        run=lipschitz.run_section, markdown=lipschitz.section_markdown, measured=lipschitz_date,
    ),
    "cost": Section(
        title="Cost per iteration",
        claim=CLAIMS["cost"],
        command="python benchmarks/run_all.py --tables=step, then {results} --sections=cost   (it reads the step table)",
        full_command="python benchmarks/run_all.py --tables=step,xla on the GPU machine",
        run=cost.run_section, markdown=cost.section_markdown, wall_time=cost.wall_time,
        measured=cost_date,
    ),
    "tables12": Section(
        title="Tables 1 and 2: not run here",
        claim=CLAIMS["tables12"],
        command="{results} --sections=tables12   (no training: reads the cost section)",
        full_command="python bin/train.py --flagfile=configs/<model>_<dataset>[_dat|_dat_paper].flags, then "
                     "python bin/eval.py --run_dir=runs/<name> --classifier=inception",
        run=tables12.run_section, markdown=tables12.section_markdown, wall_time=tables12.wall_time,
        measured=tables12.measured,
    ),
}


def run_sections(opts: StudyOptions, sections=tuple(SECTIONS), log=print) -> list:
    """Runs ``sections`` (names of :data:`SECTIONS`) in order, storing each one's JSON as it finishes.

    Returns the paths written.  The page is :func:`dat_study.render.render_page`.
    """
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown sections {unknown}; expected some of {list(SECTIONS)}.")
    if isinstance(opts.workers, bool) or not isinstance(opts.workers, int) or opts.workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {opts.workers!r}.")
    paths = []
    restored = archive.restore(opts)
    if restored:
        log(f"[{now()}] {restored} finished runs restored from {archive.archive_dir(opts)}")
    for name in sections:
        log(f"[{now()}] section {name} ...")
        start = time.time()
        data = SECTIONS[name].run(opts)
        archive.save(opts)
        seconds = time.time() - start
        paths.append(write_section(opts, name, {"section": name, "seconds": seconds, "date": now(),
                                                "quick": opts.quick, "machine": machine(), "data": data}))
        log(f"[{now()}] section {name} done in {seconds / 60:.1f} min")
    return paths


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    import tensorflow as tf

    return f"{os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, TensorFlow {tf.__version__}"
