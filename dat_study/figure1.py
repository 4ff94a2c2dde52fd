"""The study's Figure 1 section: both arms trained and attacked (``python bin/results.py --sections=figure1``).

:func:`reproduce` trains the arms (a BatchNorm-free DCGAN D, with and without DAT) in one invocation,
attacks every run at each step size of :data:`STEP_SIZES` with :mod:`dat_tf.train.attack`, and writes
``results.jsonl`` (one line per run, step size and evaluation seed, with the per-example counts),
``tables.md`` and the PNGs.  Resumable.

Design notes: docs/design.md, "Figure 1: the targeted attack".
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import time

import numpy as np

from dat_study import paper, stats, verdicts
from dat_study.common import rel
from dat_study.parallel import limit_threads, map_processes
from dat_study.runner import code_version
from dat_tf.files import write_jsonl_atomic
from dat_tf.metrics.attack import DEFAULT_MAX_ITERS, DEFAULT_STEP, DEFAULT_TOL, _finite_number

# ------------------------------------------------------ the reproduction

RESULTS = "results.jsonl"
TABLES = "tables.md"
ATTACKS = "attack.json"  # in each run folder: its attack lines and the job that made them (a rerun reuses them)
TRAINED_BY = "trained_by.json"  # in each run folder: the code version of every invocation that trained it
# The step-size sweep, fixed before the runs: half, one, two and four grey levels of a [0, 1] image, in the
# models' [-1, 1] units.  DEFAULT_STEP (one grey level) is the step of the PNGs.
STEP_SIZES = (1.0 / 255.0, 2.0 / 255.0, 4.0 / 255.0, 8.0 / 255.0)
# Both arms train alike (no tuning); --regularizer=dat is the paper variant, epsilon 1.  The discriminator has
# no BatchNorm (d_batch_norm=False): in training mode a BatchNorm D scores each example with its batch's
# statistics (reals and fakes in separate batches), in inference mode with moving averages, so the function
# the attack sees would not be the one that was trained.  Without BatchNorm the two modes are one function and
# every example is scored on its own, as Eq. (1) reads D(x).
TRAIN_FIELDS = dict(dataset="digits", net="dcgan", loss="ns", batch_size=64, width=32, latent_dim=32, lr_d=2e-4,
                    lr_g=2e-4, beta1=0.5, d_batch_norm=False, checkpoint_every=500, keep_checkpoints=2,
                    sample_every=0, verbose=0)


@dataclasses.dataclass
class Figure1Options:
    """What :func:`reproduce` trains and attacks (the study's figure1 section; defaults: its full size).

    Args:
      out_dir: ``results.jsonl``, ``tables.md`` and the PNGs.
      runs_dir: the training runs, ``<runs_dir>/<regularizer>_seed<seed>`` (a rerun resumes or skips them;
        each keeps its attack lines in ``attack.json`` and reuses them when the attack is the same).
      train_seeds: one run per regularizer and seed (the pairs of the verdict).
      resolution: digits resized to this size (32: D has three stride-2 convolutions, like the paper's
        MNIST DCGAN; 8: the digits as shipped, one convolution).
      step_sizes: the attack's step sizes (:data:`STEP_SIZES`).
      eval_seeds: one attack of ``num`` pairs per evaluation seed and step size.
      workers: processes at once (training: one CPU thread each; attacks: one process per run).
    """

    out_dir: str = os.path.join("runs", "figure1")
    runs_dir: str = os.path.join("runs", "figure1")
    train_seeds: tuple = (0, 1, 2, 3, 4)
    regularizers: tuple = ("none", "dat")
    n_iter: int = 2000
    resolution: int = 32
    step_sizes: tuple = STEP_SIZES
    eval_seeds: tuple = (0, 1, 2)
    num: int = 64
    max_iters: int = DEFAULT_MAX_ITERS
    workers: int = 2
    curve_every: int = 0  # > 0: train through the study's runner, with a FID curve and a final FID/IS
    eval_samples: int = 2000

    def validate(self) -> "Figure1Options":
        for name in ("n_iter", "num", "workers", "resolution", "max_iters"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}.")
        if not self.train_seeds or not self.eval_seeds or not self.regularizers or not self.step_sizes:
            raise ValueError("train_seeds, eval_seeds, regularizers and step_sizes must not be empty.")
        bad = [s for s in self.step_sizes if not _finite_number(s) or s <= 0]
        if bad:
            raise ValueError(f"step_sizes must be finite numbers > 0, got {bad}.")
        for name in ("train_seeds", "eval_seeds"):
            seeds = list(getattr(self, name))
            if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds) or len(set(seeds)) < len(seeds):
                raise ValueError(f"{name} must be distinct integers >= 0, got {seeds}.")
        return self


def run_dir_of(opts: Figure1Options, regularizer: str, seed: int) -> str:
    return os.path.join(opts.runs_dir, f"{regularizer}_seed{seed}")


def train_configs(opts: Figure1Options) -> list:
    """The ``TrainConfig`` fields of every run, in training order (each seed's two arms back to back)."""
    return [dict(TRAIN_FIELDS, resolution=opts.resolution, n_iter=opts.n_iter, regularizer=reg, seed=seed,
                 run_dir=run_dir_of(opts, reg, seed), log_every=opts.curve_every or TRAIN_FIELDS.get("log_every", 100),
                 log_gradient_norms=True)
            for seed in opts.train_seeds for reg in opts.regularizers]


def train_specs(opts: Figure1Options) -> list:
    """The runs as :class:`dat_study.runner.RunSpec` s (a FID curve every ``curve_every`` steps, if set)."""
    from dat_study.runner import RunSpec

    return [RunSpec.make("", fields, curve_every=opts.curve_every, eval_samples=opts.eval_samples,
                         final_eval=bool(opts.curve_every)) for fields in train_configs(opts)]


def attack_jobs(opts: Figure1Options) -> list:
    """One job per run: every step size x evaluation seed of its final model (the PNG for the first seed)."""
    jobs = []
    for seed in opts.train_seeds:
        for reg in opts.regularizers:
            job = dict(run_dir=run_dir_of(opts, reg, seed), num=opts.num, step_sizes=[float(s) for s in opts.step_sizes],
                       eval_seeds=list(opts.eval_seeds), max_iters=opts.max_iters, n_iter=opts.n_iter)
            if seed == opts.train_seeds[0]:
                job["png"] = os.path.join(opts.out_dir, f"{reg}.png")
            jobs.append(job)
    return jobs


def trained_by(run_dir: str) -> list:
    """The code versions that trained ``run_dir`` (one entry per invocation that took steps), oldest first."""
    path = os.path.join(run_dir, TRAINED_BY)
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return json.load(f)


def _train_job(args):
    fields, version = args
    limit_threads()
    from dat_tf.files import write_json_atomic
    from dat_tf.train.config import TrainConfig
    from dat_tf.train.loop import train

    start = time.time()
    _, history = train(TrainConfig(**fields).validate())  # resumes a run that has checkpoints; nothing if finished
    if history:  # this invocation trained: record by which code
        entries = trained_by(fields["run_dir"]) + [{"version": version, "seconds": time.time() - start,
                                                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}]
        write_json_atomic(os.path.join(fields["run_dir"], TRAINED_BY), entries)
    return fields["run_dir"]


def _attack_job(job):
    """The attack lines of one run (every step size x evaluation seed), reused from ``attack.json`` if done."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from dat_tf.files import write_json_atomic

    path = os.path.join(job["run_dir"], ATTACKS)
    if os.path.isfile(path) and (not job.get("png") or os.path.isfile(job["png"])):
        with open(path) as f:
            stored = json.load(f)
        if stored.get("job") == job:
            return stored["lines"]
    from dat_tf.train.attack import attack_model, figure_grid, load_run, write_png

    gan, cfg = load_run(job["run_dir"])
    png_step = min(job["step_sizes"], key=lambda s: abs(s - DEFAULT_STEP))  # the PNG's step: one grey level
    lines = []
    for step in job["step_sizes"]:
        for eval_seed in job["eval_seeds"]:
            png = job.get("png") if (step == png_step and eval_seed == job["eval_seeds"][0]) else None
            line = attack_model(gan, cfg, num=job["num"], seed=eval_seed, step=step, max_iters=job["max_iters"],
                                return_examples=bool(png), per_example=True)
            examples = line.pop("examples", None)
            line["run_dir"] = job["run_dir"]
            if examples is not None:
                write_png(figure_grid(examples, columns=16, scale=2 if cfg.image_resolution() >= 32 else 4), png)
                line["png"] = png
            lines.append(line)
    if lines[0]["step_of_model"] != job["n_iter"]:
        raise ValueError(f"{job['run_dir']} is at generator step {lines[0]['step_of_model']}, not n_iter="
                         f"{job['n_iter']}: its training did not finish.")
    write_json_atomic(path, {"job": job, "lines": lines})
    return lines


def read_results(path: str) -> list:
    """The JSON lines of a ``results.jsonl``."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def reproduce(opts: Figure1Options, log=print, progress=None) -> dict:
    """Trains every run of :func:`train_configs`, attacks them (:func:`attack_jobs`), writes the outputs.

    Writes ``out_dir/results.jsonl`` (one line per run x step size x
    evaluation seed), ``out_dir/tables.md`` and the PNGs (the first training
    seed's final models, first evaluation seed, step :data:`DEFAULT_STEP`).
    Resumable: finished runs are not trained again and their attack lines are
    reused.  Returns ``{"lines", "code_versions": {run_dir: [...]},
    "train_seconds": {run_dir: seconds}}``.
    """
    opts.validate()
    configs = train_configs(opts)
    version = code_version()
    log(f"figure1: training {len(configs)} runs in {opts.runs_dir} (code {version}) ...")
    trained = {}
    if opts.curve_every:
        from dat_study.common import slim
        from dat_study.runner import run_one

        for spec, r in zip(train_specs(opts), map_processes(run_one, train_specs(opts), opts.workers, progress)):
            trained[spec.run_dir] = slim(r)
            if not r.get("reused"):
                entries = trained_by(spec.run_dir) + [{"version": r.get("code_version") or version,
                                                       "seconds": r["train_seconds"], "date": r.get("date")}]
                from dat_tf.files import write_json_atomic

                write_json_atomic(os.path.join(spec.run_dir, TRAINED_BY), entries)
    else:
        map_processes(_train_job, [(c, version) for c in configs], opts.workers)
    jobs = attack_jobs(opts)
    log(f"figure1: attacking {len(jobs)} runs x {len(opts.step_sizes)} step sizes x {len(opts.eval_seeds)} "
        f"evaluation seeds -> {opts.out_dir} ...")
    lines = [line for lines in map_processes(_attack_job, jobs, opts.workers) for line in lines]
    os.makedirs(opts.out_dir, exist_ok=True)
    write_jsonl_atomic(os.path.join(opts.out_dir, RESULTS), lines)
    with open(os.path.join(opts.out_dir, TABLES), "w") as f:
        f.write(tables_markdown(lines))
    versions = {c["run_dir"]: [e["version"] for e in trained_by(c["run_dir"])] for c in configs}
    seconds = {c["run_dir"]: sum(e["seconds"] for e in trained_by(c["run_dir"])) for c in configs}
    return {"lines": lines, "code_versions": versions, "train_seconds": seconds, "trained": trained}


def _fmt_runs(values, digits=2):
    """``mean ± std`` with ddof=1 (a few evaluation or training seeds), None skipped."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def grey_levels(step: float) -> str:
    """A step size in grey levels of a [0, 1] image (``2/255`` in [-1, 1] units is 1)."""
    return f"{step * 255 / 2:g}"


TABLE_COLUMNS = (("k_per_gap_successful_fake", 1), ("k_per_gap_successful_real", 1), ("success_fake", 3),
                 ("success_real", 3), ("k_fake", 2), ("k_real", 2), ("k_per_gap_fake", 1), ("k_per_gap_real", 1),
                 ("rate_fake", 4), ("rate_real", 4), ("initial_gap", 3))
TABLE_HEAD = ("K/gap fake (fooled) | K/gap real (fooled) | success fake | success real | K_fake | K_real | "
              "K/gap fake (all moved) | K/gap real (all moved) | score change/step fake | score change/step real | "
              "initial gap")


def tables_markdown(rows) -> str:
    """``tables.md`` of ``results.jsonl`` rows: per run (over evaluation seeds), then pooled over training seeds."""
    runs = collections.defaultdict(list)
    for r in rows:
        runs[(r["step"], r["regularizer"], r["train_seed"])].append(r)
    keys = sorted(runs, key=lambda k: (k[0], k[2], k[1] != "none"))
    out = ["Table 1: per training run (mean ± std over evaluation seeds); step in grey levels of [0, 1]", "",
           f"| step | D | train seed | G step | {TABLE_HEAD} | eval seeds |",
           "|---|---|---|---|" + "---|" * (len(TABLE_COLUMNS) + 1)]
    for k in keys:
        v = runs[k]
        cols = " | ".join(_fmt_runs([x.get(name) for x in v], d) for name, d in TABLE_COLUMNS)
        out.append(f"| {grey_levels(k[0])} | {k[1]} | {k[2]} | {v[0]['step_of_model']} | {cols} | "
                   f"{sorted(x['seed'] for x in v)} |")
    out += ["", "Table 2: training seeds pooled (mean ± std over training seeds of each run's eval-seed mean)", "",
            f"| step | D | train seeds | {TABLE_HEAD} |", "|---|---|---|" + "---|" * len(TABLE_COLUMNS)]
    for row in summarize_attack(rows):
        cols = " | ".join(_fmt_runs(row[name], d) for name, d in TABLE_COLUMNS)
        out.append(f"| {grey_levels(row['step_size'])} | {row['regularizer']} | {row['seeds']} | {cols} |")
    return "\n".join(out) + "\n"


# ------------------------------------------------------ the study's section

SUMMARY_KEYS = tuple(name for name, _ in TABLE_COLUMNS)


def section_reproduction(opts) -> Figure1Options:
    """The reproduction the study runs, sized by ``opts`` (its outputs in ``<out_dir>/results/figure1``), for the
    pilot's budget, with a FID curve every ``curve_fraction`` of it."""
    from dat_study import convergence
    from dat_study.common import budget as pilot_budget

    budget = pilot_budget(opts, "figure1")
    return Figure1Options(out_dir=os.path.join(opts.artefacts, "figure1"), runs_dir=os.path.join(opts.runs_dir, "figure1"),
                          train_seeds=tuple(opts.figure1_seeds), n_iter=budget,
                          resolution=opts.figure1_resolution, eval_seeds=tuple(opts.figure1_eval_seeds),
                          workers=opts.workers, curve_every=convergence.curve_every(budget, opts.curve_fraction),
                          eval_samples=opts.eval_samples)


def run_section(opts) -> dict:
    """Trains both arms and attacks them in this invocation (resuming finished runs); summarizes the lines."""
    from dat_study.common import progress as common_progress
    from dat_study.common import tail_mean

    fo = section_reproduction(opts)
    out = reproduce(fo, progress=common_progress("figure1", opts))
    trained = [dict(run, run_dir=rd, regularizer=run["config"]["regularizer"], seed=run["config"]["seed"],
                    perturbation_ratio=tail_mean(run["logs"], "perturbation_ratio"))
               for rd, run in out["trained"].items()]
    return {"rows": summarize_attack(out["lines"]), "code_versions": out["code_versions"],
            "train_seconds": out["train_seconds"], "results": os.path.join(fo.out_dir, RESULTS),
            "d_batch_norm": TRAIN_FIELDS["d_batch_norm"], "step_sizes": list(fo.step_sizes), "trained": trained,
            "eval_samples": fo.eval_samples}


def _mean_or_none(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def summarize_attack(rows) -> list:
    """Per (regularizer, step size) at each run's final model: each metric per training seed (mean over eval seeds).

    A metric no example of a run defined (e.g. the score change per step when no example took a step) is ``None``.
    """
    final_step = collections.defaultdict(int)
    for r in rows:
        key = (r["regularizer"], r["train_seed"])
        final_step[key] = max(final_step[key], r["step_of_model"])
    per_run = collections.defaultdict(list)
    for r in rows:
        if r["step_of_model"] == final_step[(r["regularizer"], r["train_seed"])]:
            per_run[(r["regularizer"], r["step"], r["train_seed"])].append(r)
    out = collections.defaultdict(lambda: dict({k: [] for k in SUMMARY_KEYS}, seeds=[]))
    for (reg, step, seed), group in sorted(per_run.items()):
        cell = out[(reg, step)]
        for k in SUMMARY_KEYS:
            cell[k].append(_mean_or_none([g.get(k) for g in group]))
        cell["seeds"].append(seed)
        cell.update(step=group[0]["step_of_model"], tol=group[0]["tol"], num=group[0]["num"],
                    resolution=group[0]["resolution"], max_iters=group[0]["max_iters"],
                    eval_seeds=sorted(set(cell.get("eval_seeds", [])) | {g["seed"] for g in group}))
    return [{"regularizer": reg, "step_size": step, **cell}
            for (reg, step), cell in sorted(out.items(), key=lambda kv: (kv[0][1], kv[0][0] != "none"))]


# The claims' measures, fixed before the third edition's runs (higher K = harder to fool; lower success = harder).
CLAIM_METRICS = {
    "k_per_gap": ("k_per_gap_successful_fake", "k_per_gap_successful_real"),  # the claim's K
    "success": ("success_fake", "success_real"),  # the attack's success rate, a cell of its own
}
LOWER_IS_BETTER = {"k_per_gap_successful_fake": False, "k_per_gap_successful_real": False, "success_fake": True,
                   "success_real": True}


# Why a measure can have no value in a run without anything having diverged: K per gap over the fooled examples
# is undefined where no example was fooled after at least one step (the attack never succeeded, which the success
# rate counts, or every pair started within the tolerance); that seed leaves the cell (stats.paired(undefined=)).
UNDEFINED = {k: "no example fooled after a step in one arm" for k in CLAIM_METRICS["k_per_gap"]}


def _nan(values):
    return [float("nan") if v is None else float(v) for v in values]


def _trained_failed(trained) -> dict:
    """``{regularizer: did not learn}`` (at least half of its training runs, :func:`dat_study.stats.arm_failed`)."""
    return {reg: stats.arm_failed({r["seed"]: stats.run_failed((r.get("final") or {}).get("fid_train"),
                                                               (r.get("final") or {}).get("is"))
                                   for r in trained if r["regularizer"] == reg}) for reg in ("none", "dat")}


def trained_cannot_move(trained) -> tuple:
    """For every cell of the section: *failed* (an arm's GAN did not learn, by the final FID/IS of its training
    runs) or *inactive* (DAT's perturbation under the share of :mod:`dat_study.stats`), and the arm that loses by
    not learning (:func:`dat_study.stats.failed_cell`; each None if none)."""
    if not trained:
        return None, None
    failed = _trained_failed(trained)
    reason, lost = stats.failed_cell(failed["none"], failed["dat"], failed["none"], names=("DAT", "none"),
                                     setting="Figure 1's GAN")
    return reason or stats.inactive_reason([r.get("perturbation_ratio") for r in trained
                                            if r["regularizer"] == "dat"]), lost


def comparisons(rows, trained=None) -> dict:
    """The section's cells (the paper's claim: one Holm family): DAT against the baseline, paired by training seed.

    ``(step size, metric)`` for every step size and the metrics of :data:`CLAIM_METRICS`: K per unit of initial
    gap over the fooled examples (higher is better: more steps to fool D) and the attack's success rate (lower is
    better).  A step size where every run of both arms starts with its mean clean score gap at or below the success
    tolerance has no headroom; every cell is failed or inactive by :func:`trained_cannot_move`.
    """
    by = {(r["regularizer"], r["step_size"]): r for r in rows}
    why, lost = trained_cannot_move(trained)
    out = {}
    for step in sorted({r["step_size"] for r in rows}):
        if ("dat", step) not in by or ("none", step) not in by:
            continue
        dat, none = by[("dat", step)], by[("none", step)]
        tol = dat.get("tol") or DEFAULT_TOL
        gaps = [g for g in dat["initial_gap"] + none["initial_gap"] if g is not None]
        headroom = None
        if gaps and all(g <= tol for g in gaps):
            headroom = (f"every run's mean clean score gap ({min(gaps):.3f}-{max(gaps):.3f}) is at or below the "
                        f"success tolerance {tol:g}")
        for metrics in CLAIM_METRICS.values():
            for k in metrics:
                if k not in dat:
                    continue
                out[(step, k)] = stats.paired(stats.by_seed(_nan(dat[k]), dat["seeds"]),
                                              stats.by_seed(_nan(none[k]), none["seeds"]), LOWER_IS_BETTER[k],
                                              no_headroom=headroom, cannot_move=why, failed_arm=lost,
                                              undefined=UNDEFINED.get(k))
    return out


METRIC_TITLES = {"k_fake": "K_fake", "k_real": "K_real", "k_per_gap_fake": "K/gap fake",
                 "k_per_gap_real": "K/gap real", "k_per_gap_successful_fake": "K/gap fake (fooled)",
                 "k_per_gap_successful_real": "K/gap real (fooled)", "success_fake": "success rate fake",
                 "success_real": "success rate real"}


def _versions_line(versions: dict, trained=()) -> str:
    """Which code versions trained the runs: each run's own result (``trained``: its ``code_version``, the version
    that finished it) where stored, else the section's per-invocation records (``versions``)."""
    if trained and all(r.get("code_version") for r in trained):
        counts = collections.Counter(r["code_version"] for r in trained)
        dates = sorted(r["date"] for r in trained if r.get("date"))
        when = f" from {dates[0]} to {dates[-1]}" if dates else ""
        return (f"The {len(trained)} runs were finished{when} by code "
                + ", ".join(f"`{v}` ({n} runs)" for v, n in sorted(counts.items())) + ".")
    distinct = sorted({v for vs in versions.values() for v in vs})
    unrecorded = sorted(r for r, vs in versions.items() if not vs)
    if len(distinct) == 1 and not unrecorded and all(len(vs) == 1 for vs in versions.values()):
        return f"All {len(versions)} runs were trained by one code version, `{distinct[0]}`, each in one invocation."
    parts = [f"The runs were trained by {len(distinct)} code versions ({', '.join(f'`{v}`' for v in distinct)})"]
    if unrecorded:
        parts.append(f"{len(unrecorded)} runs have no record of theirs")
    return "; ".join(parts) + ": delete the runs folder and rerun for one version."


def section_markdown(opts, sec):
    data = sec["data"]
    rows = data["rows"]
    if any("step_size" not in r for r in rows) or not any("k_per_gap_successful_fake" in r for r in rows):
        return (["The stored section predates the third edition's measures; rerun it with "
                 "`python bin/results.py --sections=figure1`."], [], "not rerun")
    steps = "/".join(str(s) for s in sorted({r["step"] for r in rows}))
    res = rows[0]["resolution"]
    n_seeds = min(len(r["seeds"]) for r in rows)
    grid = ", ".join(grey_levels(s) for s in sorted({r["step_size"] for r in rows}))
    trained = data.get("trained") or []
    lines = [
        f"Both arms trained and attacked by this section ({res}x{res} digits, DCGAN, `ns` loss, {steps} generator "
        f"steps (the pilot's budget), training seeds {rows[0]['seeds']}). **The attacked D is the trained "
        "function:** D has no BatchNorm (`d_batch_norm=False`, both arms), so its training and inference modes are "
        "one function and each example is scored on its own, as Eq. (1) reads D(x). "
        + _versions_line(data["code_versions"], trained), "",
        "**The claim's measure, fixed before this rerun:** for each attacked example that was fooled (within "
        f"{rows[0]['tol']:g} of its partner's clean score, sigmoid) after at least one step, its steps K divided by "
        "its pair's initial score gap (steps per unit of gap, so that an arm whose D starts with its classes closer "
        "together does not need fewer steps just for that); the mean over those examples, per training seed the mean "
        f"over evaluation seeds {rows[0]['eval_seeds']}. A run where no example qualifies (D never fooled, or its "
        "pairs already within the tolerance) has no value: that seed leaves the cell and is listed beside it (added "
        "after these runs, before their cells were read; `docs/design.md`, \"Figure 1\"). The attack's **success "
        f"rate** (the share fooled within "
        f"{rows[0]['max_iters']} steps) is a cell of its own (lower = harder to fool). The paper's raw K (failures "
        "counted as the cap) and K/gap over all examples that moved are shown, not tested. "
        f"{rows[0]['num']} pairs per evaluation seed; step sizes (fixed before the runs): {grid} grey levels of a "
        "[0, 1] image (x 2/255 in the models' [-1, 1] units). Per-example lines: "
        f"[results.jsonl]({rel(opts, data['results'])}), "
        f"[tables]({rel(opts, os.path.join(os.path.dirname(data['results']), TABLES))}).", "",
    ]
    if trained:
        from dat_study import convergence

        lines += ["The trained arms (final FID with the digits classifier, "
                  f"{data.get('eval_samples')} samples; DAT's perturbation over the inputs' norm, last quarter; the "
                  "end-of-training improvement of the FID curve, as in section 1):", "",
                  "| D | final FID | final IS | DAT's perturbation / inputs' norm | end-of-training improvement |",
                  "|---|---:|---:|---:|---:|"]
        for reg in ("none", "dat"):
            chosen = [r for r in trained if r["regularizer"] == reg]
            imp = [convergence.end_improvement(convergence.curve_of(r)) for r in chosen if r.get("curve")]
            imp = [v for v in imp if np.isfinite(v)]
            lines.append(f"| {reg} | {verdicts.mean_sd([(r.get('final') or {}).get('fid_train') for r in chosen])} | "
                         f"{verdicts.mean_sd([(r.get('final') or {}).get('is') for r in chosen])} | "
                         + (verdicts.mean_sd([r.get("perturbation_ratio") for r in chosen], 4) if reg == "dat" else "-")
                         + f" | {f'{100 * np.mean(imp):+.1f}%' if imp else '-'} |")
        lines.append("")
    lines += [f"| step | D | seeds | {TABLE_HEAD} |", "|---|---|---|" + "---:|" * len(TABLE_COLUMNS)]
    for r in rows:
        cols = " | ".join(verdicts.mean_sd([v for v in r[name] if v is not None], d) if name in r else "-"
                          for name, d in TABLE_COLUMNS)
        lines.append(f"| {grey_levels(r['step_size'])} | {r['regularizer']} | {len(r['seeds'])} | {cols} |")
    cells = verdicts.decide(comparisons(rows, trained))
    label = lambda k: f"step {grey_levels(k[0])}, {METRIC_TITLES[k[1]]}: DAT vs none"  # noqa: E731
    lines += ["", "Cells (paired by training seed; one Holm family):", ""]
    lines += verdicts.cells_table([(label(k), c) for k, c in cells.items()])
    lines += ["", paper.figure1_line()]
    scope = (f"{res}x{res} digits, BatchNorm-free DCGAN D, {steps} steps, {rows[0]['num']} pairs x "
             f"{len(rows[0]['eval_seeds'])} evaluation seeds per run, {n_seeds} training seeds")
    setup = f"targeted attack at step sizes {grid} grey levels, fakes and reals"
    claims = []
    for name, text in (("k_per_gap", "DAT's D needs more attack steps (K per unit of initial gap, fooled examples)"),
                       ("success", "DAT's D is fooled less often (the attack's success rate)")):
        sub = tuple(verdicts.named(c, label(k)) for k, c in cells.items() if k[1] in CLAIM_METRICS[name])
        if sub:
            claims.append(verdicts.Claim(text, setup, sub, scope))
    return lines, claims, claims[0].verdict.word if claims else "not run"
