"""What the study's sections share: the options, the section files, number formatting and plot helpers.

A section is a module with ``run_section(opts) -> dict`` and ``section_markdown(opts, stored)``;
the driver (:mod:`.study`) stores what ``run_section`` returns in
``<out_dir>/results/<name>.json`` (:func:`write_section`), the page
(:mod:`.render`) reads it back (:func:`load_section`).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from dat_study import paper, stats
from dat_tf.files import write_json_atomic

RESULTS_CLI = "python bin/results.py"
DEFAULT_OUT_DIR = os.path.join("runs", "results", "docs")  # --out_dir=docs regenerates the committed page
QUICK_OUT_DIR = os.path.join("runs", "results_quick", "docs")


@dataclasses.dataclass
class StudyOptions:
    """Sizes of the miniature study (defaults: the full run; each section's wall time is on the page).

    Args:
      out_dir: results.md here; plots, section JSON and the Figure 1 attack lines in ``out_dir/results/``.
        Under the ignored ``runs/`` by default; ``"docs"`` rewrites the committed page.
      runs_dir: the training runs (a rerun reuses the finished ones).
    The other fields size the sections (seeds, steps); the page states them beside each verdict.
    """

    out_dir: str = DEFAULT_OUT_DIR
    readme: str | None = None  # a README.md whose results table the page rewrites (bin/results.py: with --out_dir=docs)
    runs_dir: str = os.path.join("runs", "results")
    configs_dir: str = "configs"
    workers: int = 2
    quick: bool = False
    draw: bool = True  # the sections' markdown draws its plots into artefacts; False: the text alone (the README table)
    # pilot (dat_study.pilot): seed 0 of each family's central arms to the family's cap; None: the
    # module's caps and grids (digits 8000 steps, mixtures 20000)
    pilot_seed: int = 0
    pilot_points: int = 40
    pilot_cap: int | None = None
    pilot_grid: tuple = ()
    pilot_mixture_cap: int | None = None
    pilot_mixture_grid: tuple = ()
    # the pilot's families to run now, by the section they serve (pilot.PILOT_SECTIONS; () = all); a pass of its own
    # when the budget is short: the stored pilot keeps the families of earlier passes
    pilot_sections: tuple = ()
    # figure3
    figure3_seeds: tuple = (0, 1, 2, 3, 4)
    figure3_checkpoints: tuple = paper.FIGURE3_CHECKPOINTS  # the paper's; the runs go on to the pilot's budget
    figure3_stds: tuple = (None, 0.1)  # None: the flagfiles' sqrt(0.1); 0.1: the narrow-mode reading (+ the epsilon sweep)
    # figure1: both arms trained and attacked by the section (runs in <runs_dir>/figure1), for the pilot's budget
    figure1_seeds: tuple = (0, 1, 2, 3, 4)
    figure1_resolution: int = 32
    figure1_eval_seeds: tuple = (0, 1, 2)
    # image studies on digits (each family trains for its pilot budget, a curve every 5% of it)
    resolution: int = 16
    width: int = 32
    eval_samples: int = 2000
    table3_seeds: tuple = (0, 1, 2, 3, 4)  # every column of Table 3's main arm (the verdicts' reading)
    table3_other_seeds: tuple = (0, 1, 2)  # the labelled arm (the other reading of LSGAN and WGAN)
    # Table 3's main-arm columns to run now (all eleven by default; the central four first, as a pass of their own,
    # when the budget is short: a later run with all of them reuses the finished runs); () with no labelled arm
    table3_columns: tuple = ()
    table3_other_arm: bool = True
    # lipschitz: 0-GP weights tried on the first seed to match DAT's gradient norm; batches measured per run
    lipschitz_weights: tuple = (0.01, 0.1, 1.0, 10.0)
    correctness_batches: int = 4
    figures45_seeds: tuple = (0, 1, 2, 3, 4)
    figures45_reference_seeds: tuple = (0, 1, 2)  # DAT's reference variant in the clipped WGAN settings
    # the settings to run now (flagfile stems of paper.FIGURES45_SETTINGS, or "ours"; () = all): a pass of their own
    # when the budget is short (a later run with all of them reuses the finished runs)
    figures45_stems: tuple = ()
    figures45_log_every: int = 50  # d_real, d_fake (Figure 5's Wasserstein estimate) and the other training logs
    log_every: int = 100
    curve_fraction: float = 0.05  # comparison runs: an evaluation every 5% of the budget
    # cost
    cost_results: str = os.path.join("benchmarks", "results.json")  # benchmarks/run_all.py's raw results

    @property
    def artefacts(self) -> str:
        return os.path.join(self.out_dir, "results")


def quick_options(**overrides) -> StudyOptions:
    """A smoke run of every section in a few minutes (numbers meaningless)."""
    runs = os.path.join("runs", "results_quick", "runs")
    kw = dict(
        out_dir=QUICK_OUT_DIR, runs_dir=runs,
        quick=True, pilot_points=4, pilot_cap=60, pilot_grid=(20, 40, 60), pilot_mixture_cap=400,
        pilot_mixture_grid=(200, 400), figure3_seeds=(0,), figure3_checkpoints=(100, 200, 400),
        figure3_stds=(0.1,),  # all 5 methods
        figure1_seeds=(0,), figure1_resolution=8, figure1_eval_seeds=(0,),
        resolution=8, width=8, eval_samples=300, table3_seeds=(0,), table3_other_seeds=(0,),
        lipschitz_weights=(0.1, 10.0), correctness_batches=2, figures45_seeds=(0,), figures45_reference_seeds=(0,),
        figures45_log_every=5, log_every=30, curve_fraction=0.25,
    )
    kw.update(overrides)
    return StudyOptions(**kw)


def results_command(opts: StudyOptions) -> str:
    """The ``bin/results.py`` command line that writes this page (its mode and output folder)."""
    cmd = RESULTS_CLI + (" --quick" if opts.quick else "")
    if os.path.normpath(opts.out_dir) != (QUICK_OUT_DIR if opts.quick else DEFAULT_OUT_DIR):
        cmd += f" --out_dir={opts.out_dir}"
    return cmd


# ------------------------------------------------------------------ section files


def write_section(opts: StudyOptions, name: str, obj) -> str:
    """Writes ``<artefacts>/<name>.json`` atomically; returns its path.

    Run records' logs and correctness measurements that the archive holds are stored as pointers to it
    (:func:`dat_study.archive.link`): one copy of each run's logs, in its archived summary.
    """
    from dat_study import archive

    os.makedirs(opts.artefacts, exist_ok=True)
    path = os.path.join(opts.artefacts, f"{name}.json")
    return write_json_atomic(path, archive.link(opts, obj), indent=1)


def load_section(opts: StudyOptions, name: str) -> dict | None:
    """The stored ``<artefacts>/<name>.json`` with its pointers into the archive resolved, or None if the section
    has not run."""
    from dat_study import archive

    path = os.path.join(opts.artefacts, f"{name}.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return archive.resolve(opts, json.load(f), source=path)


def pilot_data(opts) -> dict:
    """The stored pilot's data (families with their budgets, Table 3's readings, our WGAN setting)."""
    sec = load_section(opts, "pilot")
    if sec is None:
        raise RuntimeError("the study's budgets come from the pilot: run the pilot section first "
                           "(python bin/results.py --sections=pilot ...).")
    return sec["data"]


def budget(opts, family: str) -> int:
    """The stored pilot's step budget of ``family`` (:mod:`dat_study.pilot`; run it first)."""
    fams = pilot_data(opts)["families"]
    if family not in fams:
        raise RuntimeError(f"the stored pilot has no family {family!r} (it has {sorted(fams)}): rerun the pilot.")
    return int(fams[family]["budget"])


# ------------------------------------------------------------------ runs


def digits_overrides(opts: StudyOptions, run_dir, seed, n_iter) -> dict:
    """``TrainConfig`` fields that turn a full-scale flagfile into the study's digits miniature."""
    return dict(
        dataset="digits", resolution=opts.resolution, width=opts.width, n_iter=n_iter, seed=seed, run_dir=run_dir,
        log_every=opts.log_every, sample_every=0, checkpoint_every=0, keep_checkpoints=1, verbose=0,
        log_gradient_norms=True,
    )


def progress(section: str, opts: StudyOptions | None = None):
    """A ``map_processes`` progress callback printing one line per finished run with the time left.

    With ``opts``, each finished run's summary also joins the archive (:func:`dat_study.archive.save`) at once,
    so that a study killed midway keeps every run it finished.
    """
    from dat_study import archive
    from dat_study.parallel import ProgressCount

    count = ProgressCount()

    def report(done, total, job, seconds, result=None):
        where = getattr(job, "run_dir", None) or (job[0] if isinstance(job, tuple) else "")
        if opts is not None:
            archive.save(opts)
        print(f"{section}: {os.path.basename(str(where))} {count.line(done, total, seconds, result)}", flush=True)

    return report


def slim(result) -> dict:
    """What a section keeps of a run's result."""
    out = {k: result[k] for k in ("config", "logs", "curve", "final", "diverged_at", "seconds", "reused")}
    out.update(date=result.get("date"), code_version=result.get("code_version"),
               run_dir=(result.get("spec") or {}).get("overrides", {}).get("run_dir"))
    return out


# ------------------------------------------------------------------ numbers


def mean_std(values):
    """Mean and sample std (ddof 1; NaN for one value) of ``values``."""
    v = np.asarray(values, np.float64)
    return float(np.mean(v)), float(np.std(v, ddof=1)) if v.size > 1 else float("nan")


def fmt(values, digits=2):
    """``"mean ± std"`` over seeds, sample std (``"diverged"`` if any run diverged)."""
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)):
        return f"diverged ({int(np.sum(~np.isfinite(v)))}/{v.size})"
    m, s = mean_std(v)
    return f"{m:.{digits}f}" if v.size == 1 else f"{m:.{digits}f} ± {s:.{digits}f}"


def per_seed(runs, value, **match) -> dict:
    """``{seed: value(run)}`` over the runs whose fields equal ``match``; a seed twice is an error.

    >>> per_seed([{"arm": "a", "seed": 0, "x": 1.0}], lambda r: r["x"], arm="a")
    {0: 1.0}
    """
    chosen = [r for r in runs if all(r.get(k) == v for k, v in match.items())]
    return stats.by_seed([value(r) for r in chosen], [r["seed"] for r in chosen])


def steps_of(runs) -> str:
    """The runs' training steps (``config.n_iter``) for the page: ``"1000"`` or ``"500-1000"``."""
    steps = sorted({r["config"]["n_iter"] for r in runs if "config" in r})
    if not steps:
        return "not stored"
    return str(steps[0]) if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"


def minutes(seconds):
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def rel(opts: StudyOptions, path):
    """``path`` relative to the page's folder (for links)."""
    return os.path.relpath(path, opts.out_dir)


def tail_mean(logs, key, fraction=0.25):
    """Mean of ``key`` over the last ``fraction`` of the logged epochs (NaN if absent)."""
    vals = [row.get(key) for row in logs]
    vals = [np.nan if v is None else v for v in vals]
    if not vals:
        return float("nan")
    n = max(1, int(round(len(vals) * fraction)))
    return float(np.mean(vals[-n:]))


# ------------------------------------------------------------------ plots


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def band(ax, steps, vals, color, label):
    """Mean over seeds (rows of ``vals``) as a line, ± one sample std as a shaded band."""
    m = vals.mean(0)
    s = vals.std(0, ddof=1) if len(vals) > 1 else np.zeros_like(m)
    ax.plot(steps, m, color=color, label=label)
    ax.fill_between(steps, m - s, m + s, color=color, alpha=0.2)


def finish_axes(ax, title):
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generator step", fontsize=8)
    ax.legend(fontsize=7)
