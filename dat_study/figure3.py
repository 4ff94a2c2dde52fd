"""The paper's Figure 3: baseline vs DAT on the balanced and imbalanced 2D mixtures.

For each mixture, method and seed, one run trains from the toy flagfiles in
``configs/`` and is sampled (2,500 points, the VEEGAN/PacGAN protocol) at the
checkpoints 2k, 3k and 10k generator steps.  The script writes

* ``figure3.png``: laid out like the paper's Figure 3 — per mixture, the real
  data, then the samples of seed 0 at each checkpoint, baseline row above the
  DAT row;
* ``figure3.json`` and ``figure3.md``: modes covered, high-quality fraction,
  KL and the mode mass error (:mod:`dat_tf.metrics.mixture`) at each
  checkpoint, and DAT's logged perturbation norm, mean and standard deviation
  over seeds.

Runs are independent processes (``workers`` at a time, one CPU thread each),
so the whole study uses both cores of a small machine.  Outputs go to
``runs/figure3`` by default; ``out_dir="docs"`` rewrites the committed figure.
The study's figure3 section (:func:`run_section`, :func:`section_markdown`)
reruns it at both readings of the paper's "variance 0.1" (std 0.316 and 0.1)
with the reference variant too, and at std 0.1 an epsilon sweep (:data:`EPS_SWEEP`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import time

import numpy as np

from dat_study import stats, verdicts
from dat_study.common import fmt, minutes, rel
from dat_study.paper import FIGURE3_CHECKPOINTS
from dat_study.parallel import ProgressCount, limit_threads, map_processes
from dat_study.runner import EpochLogs
from dat_tf.files import write_json_atomic

METHODS = {
    # name -> (flagfile suffix, config overrides); the flagfiles' DAT is the paper variant with epsilon 1
    "none": ("", {}),
    "dat": ("_dat", {}),
    "dat_reference": ("_dat", {"dat_variant": "reference", "dat_clip": "none"}),
    "dat_eps0.1": ("_dat", {"dat_epsilon": 0.1}),
    "dat_eps0.3": ("_dat", {"dat_epsilon": 0.3}),
}
LABELS = {"none": "GAN", "dat": "GAN + DAT (paper)", "dat_reference": "GAN + DAT (reference)",
          "dat_eps0.1": "GAN + DAT (paper, eps 0.1)", "dat_eps0.3": "GAN + DAT (paper, eps 0.3)"}
MIXTURES = ("balanced", "imbalanced")
METRICS = ("modes_covered", "high_quality", "kl", "mode_mass_error")
MODE_SPACING = 1.0  # the means sit on {-1, 0, 1}^2 (dat_tf.data.toy.mixture_modes)
# The epsilon sweep (fixed before the runs): DAT (paper) at these epsilons, at the mixture std SWEEP_STD.
EPS_SWEEP = {0.1: "dat_eps0.1", 0.3: "dat_eps0.3", 1.0: "dat"}
SWEEP_STD = 0.1


@dataclasses.dataclass
class Figure3Options:
    """What :func:`run` trains and where it writes.

    Args:
      out_dir: figure3.png, figure3.md and figure3.json (``"docs"``: the committed ones).
      runs_dir: the training runs, one folder per (mixture, method, seed).
    """

    out_dir: str = os.path.join("runs", "figure3")
    configs_dir: str = "configs"
    seeds: tuple = (0, 1, 2, 3, 4)
    checkpoints: tuple = FIGURE3_CHECKPOINTS
    shown: tuple = ()  # the checkpoints drawn in figure3.png and listed in figure3.md (default: all of them)
    methods: tuple = ("none", "dat")
    mixture_std: float | None = None  # None: the flagfiles' value
    num_samples: int = 2500
    workers: int = 2
    runs_dir: str = os.path.join("runs", "figure3")


RESULT = "figure3_result.json"  # in each run folder: the job and its metrics (a rerun of the same job reuses it)


def _job(args):
    """One (mixture, method, seed) run in a fresh process; returns its metrics.

    A run folder holding the result of the same job is reused; any other run folder is started afresh (a
    killed run, or another job), so an interrupted study resumes at run granularity.
    """
    mixture, method, seed, opts = args
    suffix, overrides = METHODS[method]
    path = os.path.join(opts.configs_dir, f"toy_{mixture}{suffix}.flags")
    extra = dict(overrides, seed=seed, verbose=0, n_iter=max(opts.checkpoints), sample_every=0)
    extra["run_dir"] = os.path.join(opts.runs_dir, f"{mixture}_{method}_seed{seed}")
    if opts.mixture_std is not None:
        extra["mixture_std"] = opts.mixture_std
    job = {"flagfile": path, "overrides": extra, "checkpoints": sorted(opts.checkpoints),
           "num_samples": opts.num_samples, "keep_samples": seed == opts.seeds[0]}
    stored = _stored_result(extra["run_dir"], job)
    if stored is not None:
        return stored
    limit_threads()
    from dat_tf.train.config import TrainConfig
    from dat_tf.metrics.mixture import mixture_metrics
    from dat_tf.train.loop import build_dataset, build_gan, train

    if os.path.isdir(extra["run_dir"]):
        shutil.rmtree(extra["run_dir"])  # a killed run or another job: start afresh so that its logs are whole
    cfg = TrainConfig.from_flagfile(path, **extra).validate()
    gan, dataset = build_gan(cfg), build_dataset(cfg)
    rows, samples = [], {}
    logs = EpochLogs()  # per log_every steps: perturbation_norm (DAT's mean per-example ||delta||_2), d_real, ...
    start = time.time()
    for step in sorted(opts.checkpoints):
        train(cfg, until=step, gan=gan, dataset=dataset, callbacks=[logs])
        pts = gan.sample(opts.num_samples, seed=10_000 + seed)
        m = mixture_metrics(pts, kind=mixture, std=cfg.mixture_std)
        rows.append(dict(m, step=step))
        samples[step] = pts
    result = {
        "mixture": mixture,
        "method": method,
        "seed": seed,
        "std": cfg.mixture_std,
        "rows": rows,
        "samples": {k: v.tolist() for k, v in samples.items()} if job["keep_samples"] else None,
        "perturbation_norm": [{"step": r["step"], "perturbation_norm": r.get("perturbation_norm"),
                               "perturbation_ratio": r.get("perturbation_ratio")} for r in logs.rows],
        "seconds": time.time() - start,
    }
    write_json_atomic(os.path.join(cfg.run_dir, RESULT), {"job": job, "result": result})
    return result


def _stored_result(run_dir, job):
    path = os.path.join(run_dir, RESULT)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            stored = json.load(f)
    except (OSError, ValueError):
        return None
    if stored.get("job") != json.loads(json.dumps(job)):
        return None
    result = stored["result"]
    if result["samples"] is not None:  # JSON keys are strings; the steps are ints
        result["samples"] = {int(k): v for k, v in result["samples"].items()}
    return dict(result, reused=True)


def mean_perturbation(run, key="perturbation_norm") -> float:
    """A run's DAT perturbation size: the mean of its logged ``key`` (``perturbation_norm``, or
    ``perturbation_ratio``: over the inputs' norm) over training (NaN if none)."""
    vals = [r.get(key) for r in run.get("perturbation_norm", [])]
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else float("nan")


def summarize(results, checkpoints):
    """Mean and std over seeds per (mixture, method, step)."""
    table = []
    keys = sorted({(r["mixture"], r["method"]) for r in results}, key=lambda k: (MIXTURES.index(k[0]), k[1] != "none", k[1]))
    for mixture, method in keys:
        runs = [r for r in results if r["mixture"] == mixture and r["method"] == method]
        for step in checkpoints:
            vals = {
                m: np.array([row[m] for r in runs for row in r["rows"] if row["step"] == step], np.float64)
                for m in METRICS
            }
            vals["perturbation_norm"] = np.array([mean_perturbation(r) for r in runs], np.float64)  # whole run
            vals["perturbation_ratio"] = np.array([mean_perturbation(r, "perturbation_ratio") for r in runs], np.float64)
            entry = {"mixture": mixture, "method": method, "step": step, "seeds": len(runs),
                     "seed_list": [r["seed"] for r in runs]}  # the seed of each value, in order
            for m, v in vals.items():
                sd = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
                entry[m] = {"mean": float(np.mean(v)), "std": sd, "values": v.tolist()}
            table.append(entry)
    return table


def markdown(table, std, seconds, workers, shown=()):
    table = [e for e in table if not shown or e["step"] in shown]
    lines = [
        f"Mixture std {std:.4f}; {table[0]['seeds']} seeds; 2,500 samples per checkpoint; "
        f"mean ± sample std over seeds. Wall time {seconds / 60:.1f} min with {workers} worker processes.",
        "",
        "| mixture | method | step | modes covered (of 9) | high-quality fraction | KL(q‖p) | mode mass error | "
        "DAT perturbation norm |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e in table:
        lines.append(
            f"| {e['mixture']} | {LABELS[e['method']]} | {e['step']} | "
            f"{e['modes_covered']['mean']:.1f} ± {e['modes_covered']['std']:.1f} | "
            f"{e['high_quality']['mean']:.3f} ± {e['high_quality']['std']:.3f} | "
            f"{e['kl']['mean']:.4f} ± {e['kl']['std']:.4f} | "
            f"{e['mode_mass_error']['mean']:.3f} ± {e['mode_mass_error']['std']:.3f} | "
            f"{e['perturbation_norm']['mean']:.4f} ± {e['perturbation_norm']['std']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def _steps(n):
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def plot(readings, opts, path):
    """The paper's Figure 3 layout, one block of columns per reading: real data, then seed 0's samples at each shown
    checkpoint; a row per mixture and method.  ``readings``: ``[(std, results, options)]``, drawn left to right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dat_tf.data.toy import sample_mixture

    blocks = [(std, results, o, sorted(o.shown or o.checkpoints)) for std, results, o in readings]
    ncols = sum(1 + len(steps) for *_, steps in blocks)
    nrows = len(MIXTURES) * len(opts.methods)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.0 * ncols, 2.0 * nrows), squeeze=False)
    col0 = 0
    for std, results, o, steps in blocks:
        for mi, mixture in enumerate(MIXTURES):
            real = sample_mixture(o.num_samples, mixture, std, seed=99)
            for ki, method in enumerate(opts.methods):
                row = mi * len(opts.methods) + ki
                run = next(r for r in results
                           if r["mixture"] == mixture and r["method"] == method and r["samples"] is not None)
                panels = [(f"real data, std {std:.3g}", real)] + [
                    (f"{LABELS[method]}, {_steps(s)}", np.array(run["samples"][s])) for s in steps]
                for ci, (title, pts) in enumerate(panels):
                    ax = axes[row, col0 + ci]
                    ax.scatter(pts[:, 0], pts[:, 1], s=1, c="0.4" if ci == 0 else "tab:blue", linewidths=0)
                    ax.set_xlim(-2, 2)
                    ax.set_ylim(-2, 2)
                    ax.set_aspect("equal")
                    ax.set_xticks([])
                    ax.set_yticks([])
                    ax.set_title(title, fontsize=7)
                axes[row, col0].set_ylabel(mixture, fontsize=8)
        col0 += 1 + len(steps)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _flagfile_std(opts) -> float:
    from dat_tf.train.config import TrainConfig

    return TrainConfig.from_flagfile(os.path.join(opts.configs_dir, "toy_balanced.flags")).mixture_std


def _run_label(job) -> str:
    mixture, method, seed, o = job
    std = "" if o.mixture_std is None else f", std {o.mixture_std:g}"
    return f"{mixture} {LABELS[method]}{std}, seed {seed}"


def _write(o, std, table, seconds, results):
    os.makedirs(o.out_dir, exist_ok=True)
    write_json_atomic(
        os.path.join(o.out_dir, "figure3.json"),
        {"std": std, "seeds": list(o.seeds), "wall_time_s": seconds, "table": table,
         "run_seconds": [{k: r[k] for k in ("mixture", "method", "seed", "seconds")} for r in results]},
        indent=1,
    )
    with open(os.path.join(o.out_dir, "figure3.md"), "w") as f:
        f.write(markdown(table, std, seconds, o.workers, o.shown))


def run(opts: Figure3Options, stds=None, log=None):
    """Runs the study and writes the PNG, JSON and markdown; returns ``(table, seconds)``.

    With ``stds`` (several mixture stds, ``None`` = the flagfiles'), every reading runs in one pool, each into
    ``<out_dir>/std<std>/`` (its JSON and markdown) and ``<out_dir>/figure3.png`` shows them side by side in that
    order; it returns ``[(std, table, seconds)]``.  ``log`` gets one line per finished run with the time left.
    """
    unknown = [m for m in opts.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown methods {unknown}; expected some of {sorted(METHODS)}.")
    single = stds is None
    readings = []
    for std in ((opts.mixture_std,) if single else stds):
        o = opts if single else dataclasses.replace(
            opts, mixture_std=std, out_dir=os.path.join(opts.out_dir, f"std{_flagfile_std(opts) if std is None else std:g}"),
            runs_dir=os.path.join(opts.runs_dir, f"std{'default' if std is None else f'{std:g}'}"))
        readings.append((_flagfile_std(opts) if std is None else std, o))
    jobs = [(mx, m, s, o) for _, o in readings for mx in MIXTURES for m in o.methods for s in o.seeds]

    count = ProgressCount()

    def progress(done, total, job, seconds, result=None):
        line = count.line(done, total, seconds, result)
        if log:
            log(f"figure3: {_run_label(job)} {line}")

    start = time.time()
    results = map_processes(_job, jobs, opts.workers, progress=progress)
    seconds = time.time() - start
    out, drawn = [], []
    for std, o in readings:
        mine = [r for r, job in zip(results, jobs) if job[3] is o]
        table = summarize(mine, sorted(o.checkpoints))
        _write(o, std, table, seconds, mine)
        out.append((std, table, seconds))
        drawn.append((std, mine, o))
    os.makedirs(opts.out_dir, exist_ok=True)
    plot(drawn, opts, os.path.join(opts.out_dir, "figure3.png"))
    if single:
        return out[0][1], seconds
    with open(os.path.join(opts.out_dir, "figure3.md"), "w") as f:  # every reading, in the figure's order
        f.write("\n".join(f"## Mixture std {std:.3g}\n\n" + markdown(table, std, sec, opts.workers, o.shown)
                          for (std, table, sec), (_, o) in zip(out, readings)))
    write_json_atomic(os.path.join(opts.out_dir, "figure3.json"),
                      {"readings": [{"std": std, "seeds": list(o.seeds), "table": table}
                                    for (std, table, _), (_, o) in zip(out, readings)], "wall_time_s": seconds},
                      indent=1)
    return out


# ------------------------------------------------------------------ the study's section

METHOD_TITLES = {"none": "GAN", "dat": "DAT (paper)", "dat_reference": "DAT (reference)",
                 "dat_eps0.1": "DAT (paper, eps 0.1)", "dat_eps0.3": "DAT (paper, eps 0.3)"}
CLAIM_METHODS = ("dat", "dat_reference")  # the paper's claim, in both readings of DAT
# The cells' metrics, fixed before the runs (KL is shown, not tested: KL(q||p) gives a lost mode no term).
CELL_METRICS = {"mode_mass_error": True, "modes_covered": False}  # metric -> lower is better
CELL_TITLES = {"mode_mass_error": "mode mass error", "modes_covered": "modes covered"}


def section_methods(std) -> tuple:
    """The methods run at a mixture std: GAN, both DAT variants, and the epsilon sweep at :data:`SWEEP_STD`."""
    sweep = tuple(m for m in EPS_SWEEP.values() if m not in CLAIM_METHODS)
    return ("none", *CLAIM_METHODS) + (sweep if std is not None and math.isclose(std, SWEEP_STD) else ())


def section_steps(opts, std) -> tuple:
    """``(n_iter, checkpoints, cell steps)`` of one mixture std: the pilot's budget (the larger of the two mixtures'),
    never below the paper's 10k; the paper's checkpoints and one every ``curve_fraction`` of the run; cells at the
    paper's early checkpoints (speed) and at the end (end state)."""
    from dat_study import convergence
    from dat_study.common import budget as pilot_budget

    tag = "default" if std is None else f"{std:g}"
    budget = max(pilot_budget(opts, f"figure3_std{tag}_{m}") for m in MIXTURES)
    paper = sorted(opts.figure3_checkpoints)
    n_iter = max(budget, paper[-1])
    every = convergence.curve_every(n_iter, opts.curve_fraction)
    checkpoints = tuple(sorted(set(paper) | set(range(every, n_iter + 1, every)) | {n_iter}))
    cells = tuple(s for s in paper if s < paper[-1]) + (n_iter,)
    return n_iter, checkpoints, cells


def _section_log(opts):
    """Progress lines of the study's Figure 3; each finished run joins the archive (:mod:`dat_study.archive`)."""
    from dat_study import archive

    def log(line):
        archive.save(opts)
        print(line, flush=True)

    return log


def run_section(opts) -> dict:
    """Figure 3 once per mixture std of ``opts.figure3_stds`` (:func:`section_methods` at each)."""
    variants = []
    for std in opts.figure3_stds:
        tag = "figure3" if std is None else f"figure3_std{std:g}"
        n_iter, checkpoints, cells = section_steps(opts, std)
        fo = Figure3Options(
            out_dir=os.path.join(opts.artefacts, tag), configs_dir=opts.configs_dir, seeds=tuple(opts.figure3_seeds),
            checkpoints=checkpoints, shown=cells, methods=section_methods(std), mixture_std=std,
            workers=opts.workers, runs_dir=os.path.join(opts.runs_dir, tag),
        )
        table, seconds = run(fo, log=_section_log(opts))
        with open(os.path.join(fo.out_dir, "figure3.json")) as f:
            std_used = json.load(f)["std"]
        variants.append({"tag": tag, "std": std_used, "table": table, "seconds": seconds,
                         "num_samples": fo.num_samples, "checkpoints": list(fo.checkpoints), "cell_steps": list(cells),
                         "n_iter": n_iter})
    return {"variants": variants, "seeds": list(opts.figure3_seeds)}


def _seeded(entry, metric, seeds):
    """``{seed: value}`` of a table entry: by its ``seed_list``, else by position in ``seeds``.

    Position is safe for files written before ``seed_list`` existed: :func:`run` collects the
    runs with :func:`dat_study.parallel.map_processes`, which returns them in job
    order, and the jobs run the seeds in the order of ``seeds``.
    """
    return stats.by_seed(entry[metric]["values"], entry.get("seed_list", seeds))


def comparisons(variants, methods=CLAIM_METHODS) -> dict:
    """Cells: each of ``methods`` against GAN, per std, mixture, step and metric of :data:`CELL_METRICS`.

    ``(std, method, mixture, step, metric)``.  The mode mass error is lower-better; modes covered is
    higher-better with the bound of all modes (a cell where every run of both arms covers all of them is
    saturated).  A stored table without a metric (written before it existed) gives no cell for it.
    """
    from dat_tf.data.toy import mixture_modes

    n_modes = len(mixture_modes())
    out = {}
    for var in variants:
        by = {(e["mixture"], e["method"], e["step"]): e for e in var["table"]}
        steps = var.get("cell_steps")
        for mixture, method, step in by:
            if method not in methods or (mixture, "none", step) not in by or (steps and step not in steps):
                continue
            base, e = by[(mixture, "none", step)], by[(mixture, method, step)]
            ratio = e.get("perturbation_ratio", {}).get("values", [])
            why = stats.inactive_reason(ratio, what=f"{METHOD_TITLES[method]}'s perturbation")
            for metric, lower in CELL_METRICS.items():
                if metric not in e or metric not in base:
                    continue
                out[(var["std"], method, mixture, step, metric)] = stats.paired(
                    _seeded(e, metric, var["seeds"]), _seeded(base, metric, var["seeds"]), lower,
                    bound=None if lower else n_modes, cannot_move=why)
    return out


def sweep_comparisons(variants) -> dict:
    """The epsilon sweep's cells (its own Holm family: a question of ours, not a claim of the paper)."""
    sweep = [v for v in variants if math.isclose(v["std"], SWEEP_STD)]
    return comparisons(sweep, methods=tuple(EPS_SWEEP.values()))


def reference_mass_error(kind, std, num, draws=5) -> float:
    """The mode mass error of the true mixture's own samples (``num`` points, mean over ``draws`` draws).

    What a perfect generator scores: sampling noise, and at wide stds the overlap of the modes, keep it above 0.
    """
    from dat_tf.data.toy import sample_mixture
    from dat_tf.metrics.mixture import mixture_metrics

    return float(np.mean([mixture_metrics(sample_mixture(num, kind, std, seed=1000 + i), kind=kind,
                                          std=std)["mode_mass_error"] for i in range(draws)]))


def _cell(e, metric, digits):
    return fmt(e[metric]["values"], digits) if metric in e else "not stored"


def _perturbation_lines(variants) -> list:
    """DAT's logged perturbation (mean over training, then over seeds) against the inputs' norm and the mode spacing."""
    rows = []
    for var in variants:
        for e in var["table"]:
            if (e["method"] == "none" or "perturbation_norm" not in e or
                    e["step"] != max(x["step"] for x in var["table"])):
                continue
            vals = e["perturbation_norm"]["values"]
            ratio = e.get("perturbation_ratio", {}).get("values", [])
            rows.append(f"| {var['std']:.3f} | {e['mixture']} | {METHOD_TITLES[e['method']]} | "
                        f"{verdicts.mean_sd(vals, 4)} | {verdicts.mean_sd(ratio, 4)} | "
                        f"{verdicts.readable(np.mean(vals) / (MODE_SPACING / 2), 3)} |")
    if not rows:
        return []
    return ["DAT's perturbation size: the logged `perturbation_norm` (the mean per-example L2 norm of the step DAT "
            "adds to D's inputs) and its share of the inputs' norm, averaged over training, mean ± sample std over "
            f"seeds, against the half-spacing {MODE_SPACING / 2:g} of the modes (a step that long can carry a point into "
            f"the next mode's cell). A share under {stats.INACTIVE_SHARE:g} makes that method's cells *inactive*.", "",
            "| std | mixture | method | perturbation norm | / inputs' norm | / half-spacing |",
            "|---:|---|---|---:|---:|---:|", *rows, ""]


def _curves_plot(opts, variants):
    """Mode mass error over training per std and mixture, GAN and the DAT variants (mean ± sample std over seeds)."""
    from dat_study.common import band, finish_axes, pyplot

    plt = pyplot()
    fig, axes = plt.subplots(len(variants), 2, figsize=(10, 3 * len(variants)), squeeze=False)
    colors = {"none": "0.4", "dat": "tab:red", "dat_reference": "tab:orange", "dat_eps0.1": "tab:cyan",
              "dat_eps0.3": "tab:blue"}
    for vi, var in enumerate(variants):
        for mi, mixture in enumerate(MIXTURES):
            ax = axes[vi, mi]
            for method, color in colors.items():
                es = sorted((e for e in var["table"] if e["mixture"] == mixture and e["method"] == method),
                            key=lambda e: e["step"])
                if not es:
                    continue
                vals = np.array([e["mode_mass_error"]["values"] for e in es], np.float64).T
                band(ax, [e["step"] for e in es], vals, color, METHOD_TITLES[method])
            finish_axes(ax, f"std {var['std']:.3f}, {mixture}: mode mass error")
    fig.tight_layout()
    os.makedirs(opts.artefacts, exist_ok=True)
    fig.savefig(os.path.join(opts.artefacts, "figure3_curves.png"), dpi=90)
    plt.close(fig)


def section_markdown(opts, sec):
    variants = [dict(v, seeds=sec["data"]["seeds"]) for v in sec["data"]["variants"]]
    lines = []
    for var in variants:
        shown = var.get("cell_steps") or sorted({e["step"] for e in var["table"]})
        by = {(e["mixture"], e["method"], e["step"]): e for e in var["table"]}
        methods = [m for m in METHOD_TITLES if any(k[1] == m for k in by)]
        samples = (f"{var['num_samples']} samples per checkpoint" if "num_samples" in var
                   else "samples per checkpoint: not stored in the JSON")
        lines += [
            f"**Mixture std {var['std']:.3f}** ({len(var['seeds'])} seeds, {var.get('n_iter', max(shown))} steps, "
            f"{samples}, {minutes(var['seconds'])}; "
            f"[plot]({rel(opts, os.path.join(opts.artefacts, var['tag'], 'figure3.png'))}), "
            f"[table]({rel(opts, os.path.join(opts.artefacts, var['tag'], 'figure3.md'))}))", ""]
        for metric, title, digits in (("modes_covered", "modes covered (of 9)", 1),
                                      ("mode_mass_error", "mode mass error", 3), ("kl", "KL(q‖p)", 3)):
            lines += [f"| {title}: mixture | step | " + " | ".join(METHOD_TITLES[m] for m in methods) + " |",
                      "|---|---:|" + "---:|" * len(methods)]
            for mixture in MIXTURES:
                for step in shown:
                    lines.append(f"| {mixture} | {step} | "
                                 + " | ".join(_cell(by[(mixture, m, step)], metric, digits) for m in methods) + " |")
            lines.append("")
        imp = []
        for mixture in MIXTURES:
            for m in methods:
                es = sorted((e for e in var["table"] if e["mixture"] == mixture and e["method"] == m),
                            key=lambda e: e["step"])
                if len(es) > 4:
                    from dat_study import convergence

                    per = np.array([e["mode_mass_error"]["values"] for e in es], np.float64).T
                    v = [convergence.end_improvement(list(zip([e["step"] for e in es], row))) for row in per]
                    imp.append(f"{mixture} {METHOD_TITLES[m]} {100 * np.nanmean(v):+.1f}%")
        if imp:
            lines += ["End-of-training improvement of the mode mass error (mean over seeds; see section 1): "
                      + ", ".join(imp) + ".", ""]
    lines += [
        "Metrics (`dat_tf/metrics/mixture.py`): a sample is high quality within 3 std of its nearest mode; *modes "
        "covered* counts modes holding at least 1% of the samples as high-quality ones; *mode mass error* is the mean "
        "over the nine modes of |q_k - p_k| / p_k, with q the share of the high-quality samples at each mode and p the "
        "true weights (0 for a perfect fit up to sampling noise; a lost mode adds 1/9 whatever its weight). The "
        "cells test the mode mass error and modes covered at the paper's early checkpoints (speed: \"fits faster\") "
        "and at the end of training (end state: \"keeps the small modes\"), fixed before the runs; KL(q‖p) is "
        "shown, not tested: a lost mode has q_k = 0 and no term of its own in it. At std 0.316 the 3-std radius "
        "0.95 exceeds the half-spacing 0.5, so every sample is high quality and modes covered saturates; the mass "
        "error does not.", ""]
    refs = [f"std {var['std']:.3f} {mixture} "
            f"{reference_mass_error(mixture, var['std'], var.get('num_samples', 2500)):.3f}"
            for var in variants for mixture in MIXTURES]
    lines += ["The true mixture's own samples (what a perfect generator scores: the mean of 5 draws of as many "
              "points; overlapping modes at std 0.316 raise the imbalanced one): " + ", ".join(refs) + ".", ""]
    lines += _perturbation_lines(variants)
    cells = verdicts.decide(comparisons(variants))
    label = lambda k, title: f"std {k[0]:.3f}, {k[2]}, step {k[3]}, {CELL_TITLES[k[4]]}: {title} vs GAN"  # noqa: E731
    rows = [(label(k, METHOD_TITLES[k[1]]), c) for k, c in cells.items()]
    lines += ["Cells of the paper's claim (paired by seed; mass error lower is better, modes higher; one Holm "
              "family):", ""]
    lines += verdicts.cells_table(rows, digits=3)
    lines += ["",
              "DAT (reference) is the authors' released code (docs/design.md, 'DAT'): its step is the gradient of a "
              "*batch mean* of D, about 1/B of a per-sample gradient (clipped to [-1, 1]), so at the mixtures' batch "
              "of 256 its perturbations are far smaller than DAT (paper)'s, which steps by the full per-sample "
              "gradient.", ""]
    sweep = verdicts.decide(sweep_comparisons(variants))
    eps_of = {m: e for e, m in EPS_SWEEP.items()}
    if sweep:
        srows = [(label(k, f"DAT (paper, eps {eps_of[k[1]]:g})"), c) for k, c in sweep.items()]
        lines += [f"Epsilon sweep at std {SWEEP_STD:g} (DAT (paper) at epsilon "
                  f"{', '.join(f'{e:g}' for e in EPS_SWEEP)}, fixed before the runs; not a claim of the paper, so its "
                  "cells are a Holm family of their own):", ""]
        lines += verdicts.cells_table(srows, digits=3) + [""]
    if opts.draw:
        _curves_plot(opts, variants)
    lines += ["![Figure 3: the mode mass error over training](results/figure3_curves.png)", ""]
    claims = []
    for var in variants:
        steps = "/".join(str(s) for s in (var.get("cell_steps") or sorted({k[3] for k in cells})))
        scope = (f"2D mixture std {var['std']:.3f}, MLP 4x64, {var.get('n_iter', '?')} steps (cells at {steps}), "
                 f"{var.get('num_samples', 2500)} samples per checkpoint, {len(var['seeds'])} seeds")
        for method in CLAIM_METHODS:
            for mixture in MIXTURES:
                sub = tuple(verdicts.named(c, label(k, METHOD_TITLES[k[1]])) for k, c in cells.items()
                            if k[0] == var["std"] and k[1] == method and k[2] == mixture)
                if sub:
                    claims.append(verdicts.Claim(
                        f"std {var['std']:.3f}, {mixture} mixture: {METHOD_TITLES[method]} fits faster and better "
                        "than GAN", "mode mass error and modes covered at the early checkpoints and the end", sub,
                        scope, digits=3))
    for eps, method in EPS_SWEEP.items():
        for mixture in MIXTURES:
            sub = [verdicts.named(c, label(k, f"eps {eps:g}")) for k, c in sweep.items()
                   if k[1] == method and k[2] == mixture]
            if sub:
                v = verdicts.verdict(sub)
                claims.append(f"Epsilon sweep (not a claim of the paper), std {SWEEP_STD:g}, {mixture}, DAT (paper) "
                              f"at eps {eps:g} vs GAN: **{v.word}** ({v.text()})")
    overall = verdicts.verdict(list(cells.values())).word if cells else "not run"
    return lines, claims, overall
