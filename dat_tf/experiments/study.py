"""The reproduction study: every claim of the paper rerun at CPU scale, written to ``docs/results.md``.

Six sections, each a function ``section_<name>(opts) -> dict`` that trains
(in worker processes, see :mod:`dat_tf.experiments.parallel`), measures and
stores its numbers in ``<out_dir>/results/<name>.json`` together with its
plots; :func:`render` turns whatever section files exist into the page.

========== =============================================================
section    what it runs
========== =============================================================
figure3    2D mixtures, GAN vs DAT (paper and reference variants), 5 seeds,
           std sqrt(0.1) (the paper's words; optionally also 0.1) (:mod:`.figure3`)
figure1    the attack diagnostic on digits, 3 training seeds
           (``docs/attack/reproduce.sh``)
table3     3 losses x 9 regularizers on digits, final FID/KID, 3 seeds
figures45  DCGAN and WGAN over the figures' lr / beta1 / n_dis, +-DAT,
           FID curves over training
lipschitz  D's input-gradient norms at reals and fakes over training for
           none, zero_gp and dat (the table3 runs' logs)
cost       per-iteration time of each regularizer relative to none
           (``benchmarks/run_all.py --tables=step``)
========== =============================================================

Verdicts follow the fixed rules of :mod:`dat_tf.experiments.verdicts`.  The
miniature sizes are in :class:`StudyOptions`; ``quick_options()`` shrinks
everything to a smoke run of a few minutes whose numbers mean nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

from dat_tf.experiments import verdicts
from dat_tf.experiments.parallel import limit_threads, map_processes
from dat_tf.experiments.runner import RunSpec, metric, run_one
from dat_tf.files import write_json_atomic, write_jsonl_atomic

SECTIONS = ("figure3", "figure1", "table3", "figures45", "lipschitz", "cost")
TABLE3_LOSSES = {"gan": "ns", "lsgan": "lsgan", "wgan": "wgan"}  # paper row -> our loss name
TABLE3_REGS = ("none", "gp", "lp", "zero_gp", "ar", "rfm", "asgan", "dat", "datt")
REG_TITLES = {"none": "None", "gp": "GP", "lp": "LP", "zero_gp": "0-GP", "ar": "AR", "rfm": "RFM",
              "asgan": "ASGAN", "dat": "DAT", "datt": "DATT"}
# Paper Table 3 (FID on CIFAR-10), rows GAN, LSGAN, WGAN; columns TABLE3_REGS.
PAPER_TABLE3 = {
    "gan": (30.20, 27.80, 27.25, 29.76, 29.37, 27.89, 27.24, 26.98, 26.77),
    "lsgan": (25.20, 24.40, 25.38, 28.67, 26.49, 26.05, 26.46, 24.38, 24.35),
    "wgan": (29.43, 26.03, 26.90, 43.06, 27.26, 26.83, 25.98, 25.67, 25.66),
}
# Figures 4 and 5: (title, flagfile stem); each also runs with the _dat twin.
FIGURE45_SETTINGS = (
    ("DCGAN lr 2e-4, b1 0.5, it 1", "dcgan_cifar10_lr0.0002_b0.5_it1"),
    ("DCGAN lr 2e-4, b1 0.5, it 5", "dcgan_cifar10_lr0.0002_b0.5_it5"),
    ("DCGAN lr 2e-4, b1 0, it 1", "dcgan_cifar10_lr0.0002_b0_it1"),
    ("DCGAN lr 2e-3, b1 0.5, it 1", "dcgan_cifar10_lr0.002_b0.5_it1"),
    ("WGAN lr 5e-5, b1 0.5, it 1", "wgan_cifar10_lr5e-05_b0.5_it1"),
    ("WGAN lr 5e-5, b1 0.5, it 5", "wgan_cifar10_lr5e-05_b0.5_it5"),
)
LIPSCHITZ_REGS = ("none", "zero_gp", "dat")


@dataclasses.dataclass
class StudyOptions:
    """Sizes of the miniature study (defaults: the full run, under 3 h on 2 cores)."""

    out_dir: str = "docs"  # results.md here, plots and JSON in out_dir/results/
    runs_dir: str = os.path.join("runs", "results")
    configs_dir: str = "configs"
    workers: int = 2
    quick: bool = False
    # figure3
    figure3_seeds: tuple = (0, 1, 2, 3, 4)
    figure3_checkpoints: tuple = (2000, 3000, 10000)
    figure3_stds: tuple = (None,)  # None: the flagfiles' sqrt(0.1); add 0.1 for the narrow-mode reading (+11 min)
    # figure1
    figure1_reuse: bool = False  # use docs/attack/results.jsonl as it is instead of rerunning reproduce.sh
    figure1_results: str = os.path.join("docs", "attack", "results.jsonl")
    # image studies on digits
    resolution: int = 16
    width: int = 32
    eval_samples: int = 2000
    table3_seeds: tuple = (0, 1, 2)
    table3_iters: int = 1000
    figures45_seeds: tuple = (0, 1)
    figures45_iters: int = 1000
    figures45_curve_every: int = 200
    log_every: int = 100
    # cost
    cost_reuse: bool = False  # read benchmarks/results.json as it is instead of rerunning the step table

    @property
    def artefacts(self) -> str:
        return os.path.join(self.out_dir, "results")


def quick_options(**overrides) -> StudyOptions:
    """A smoke run of every section in a few minutes (numbers meaningless)."""
    kw = dict(
        out_dir=os.path.join("runs", "results_quick", "docs"), runs_dir=os.path.join("runs", "results_quick", "runs"),
        quick=True, figure3_seeds=(0, 1), figure3_checkpoints=(100, 200, 400), figure3_stds=(None,),
        figure1_results=os.path.join("runs", "results_quick", "docs", "results", "figure1.jsonl"),
        resolution=8, width=8, eval_samples=300, table3_seeds=(0,), table3_iters=60, figures45_seeds=(0,),
        figures45_iters=60, figures45_curve_every=30, log_every=30,
    )
    kw.update(overrides)
    return StudyOptions(**kw)


# ------------------------------------------------------------------ helpers


def _mean_std(values):
    v = np.asarray(values, np.float64)
    return float(np.mean(v)), float(np.std(v))


def fmt(values, digits=2):
    """``"mean ± std"`` over seeds (``"diverged"`` if any run diverged)."""
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)):
        return f"diverged ({int(np.sum(~np.isfinite(v)))}/{v.size})"
    m, s = _mean_std(v)
    return f"{m:.{digits}f}" if v.size == 1 else f"{m:.{digits}f} ± {s:.{digits}f}"


def _write_json(opts, name, obj):
    os.makedirs(opts.artefacts, exist_ok=True)
    path = os.path.join(opts.artefacts, f"{name}.json")
    return write_json_atomic(path, obj, indent=1)


def load_section(opts, name) -> dict | None:
    path = os.path.join(opts.artefacts, f"{name}.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _digits_overrides(opts, run_dir, seed, n_iter):
    return dict(
        dataset="digits", resolution=opts.resolution, width=opts.width, n_iter=n_iter, seed=seed, run_dir=run_dir,
        log_every=opts.log_every, sample_every=0, checkpoint_every=0, keep_checkpoints=1, verbose=0,
        log_gradient_norms=True,
    )


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slim(result):
    """What a section keeps of a run's result."""
    return {k: result[k] for k in ("config", "logs", "curve", "final", "diverged_at", "seconds", "reused")}


# ------------------------------------------------------------------ sections


def section_figure3(opts: StudyOptions) -> dict:
    from dat_tf.experiments.figure3 import Figure3Options, run

    variants = []
    for std in opts.figure3_stds:
        tag = "figure3" if std is None else f"figure3_std{std:g}"
        fo = Figure3Options(
            out_dir=os.path.join(opts.artefacts, tag), configs_dir=opts.configs_dir, seeds=tuple(opts.figure3_seeds),
            checkpoints=tuple(opts.figure3_checkpoints), methods=("none", "dat", "dat_reference"), mixture_std=std,
            workers=opts.workers, runs_dir=os.path.join(opts.runs_dir, tag),
        )
        table, seconds = run(fo)
        with open(os.path.join(fo.out_dir, "figure3.json")) as f:
            std_used = json.load(f)["std"]
        variants.append({"tag": tag, "std": std_used, "table": table, "seconds": seconds})
    return {"variants": variants, "seeds": list(opts.figure3_seeds)}


def _attack_job(args):
    run_dir, seed = args
    limit_threads()
    from dat_tf.experiments.figure1 import attack_run

    result = attack_run(run_dir, num=64, seed=seed)
    result["run_dir"] = run_dir
    return result


def section_figure1(opts: StudyOptions) -> dict:
    """Full: ``docs/attack/reproduce.sh`` (trains 12 runs, attacks them); quick: 2 tiny runs."""
    path = opts.figure1_results
    if opts.quick:
        specs = [
            RunSpec.make(
                os.path.join(opts.configs_dir, "table3_gan_none.flags"),
                dict(_digits_overrides(opts, os.path.join(opts.runs_dir, f"attack_{reg}"), 0, opts.table3_iters),
                     regularizer=reg, resolution=8, latent_dim=32),
                final_eval=False,
            )
            for reg in ("none", "dat")
        ]
        map_processes(run_one, specs, opts.workers)
        rows = map_processes(_attack_job, [(s.run_dir, e) for s in specs for e in (0, 1)], opts.workers)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_jsonl_atomic(path, rows)
        source = "quick: 2 runs of the table3 net on 8x8 digits, 2 evaluation seeds"
    elif opts.figure1_reuse:
        source = f"{path} as committed (not rerun by this invocation)"
    else:
        subprocess.run(["bash", os.path.join("docs", "attack", "reproduce.sh")], check=True)
        source = "docs/attack/reproduce.sh, rerun by this invocation"
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {"source": source, "rows": summarize_attack(rows)}


def summarize_attack(rows) -> list:
    """Per (resolution, regularizer) at each run's final model: K per training seed (mean over eval seeds)."""
    final_step = collections.defaultdict(int)
    for r in rows:
        final_step[(r["resolution"], r["regularizer"], r["train_seed"])] = max(
            final_step[(r["resolution"], r["regularizer"], r["train_seed"])], r["step_of_model"])
    per_run = collections.defaultdict(list)
    for r in rows:
        key = (r["resolution"], r["regularizer"], r["train_seed"])
        if r["step_of_model"] == final_step[key]:
            per_run[key].append(r)
    out = collections.defaultdict(lambda: {"k_fake": [], "k_real": [], "initial_gap": [], "seeds": []})
    for (res, reg, seed), group in sorted(per_run.items()):
        cell = out[(res, reg)]
        for k in ("k_fake", "k_real", "initial_gap"):
            cell[k].append(float(np.mean([g[k] for g in group])))
        cell["seeds"].append(seed)
        cell["step"] = group[0]["step_of_model"]
    return [{"resolution": res, "regularizer": reg, **cell} for (res, reg), cell in sorted(out.items())]


def _table3_specs(opts):
    specs = {}
    for row, loss in TABLE3_LOSSES.items():
        for reg in TABLE3_REGS:
            for seed in opts.table3_seeds:
                run_dir = os.path.join(opts.runs_dir, "table3", f"{row}_{reg}_seed{seed}")
                specs[(row, reg, seed)] = RunSpec.make(
                    os.path.join(opts.configs_dir, f"table3_{row}_{reg}.flags"),
                    _digits_overrides(opts, run_dir, seed, opts.table3_iters), eval_samples=opts.eval_samples,
                )
    return specs


def section_table3(opts: StudyOptions) -> dict:
    specs = _table3_specs(opts)
    results = map_processes(run_one, list(specs.values()), opts.workers)
    runs = [dict(_slim(r), row=k[0], reg=k[1], seed=k[2]) for k, r in zip(specs, results)]
    return {"runs": runs}


def section_figures45(opts: StudyOptions) -> dict:
    specs = {}
    for title, stem in FIGURE45_SETTINGS:
        for arm in ("none", "dat"):
            for seed in opts.figures45_seeds:
                flagfile = os.path.join(opts.configs_dir, stem + ("_dat" if arm == "dat" else "") + ".flags")
                run_dir = os.path.join(opts.runs_dir, "figures45", f"{stem}_{arm}_seed{seed}")
                specs[(stem, arm, seed)] = RunSpec.make(
                    flagfile, _digits_overrides(opts, run_dir, seed, opts.figures45_iters),
                    curve_every=opts.figures45_curve_every, eval_samples=opts.eval_samples,
                )
    results = map_processes(run_one, list(specs.values()), opts.workers)
    runs = [dict(_slim(r), stem=k[0], arm=k[1], seed=k[2]) for k, r in zip(specs, results)]
    return {"runs": runs}


def section_lipschitz(opts: StudyOptions) -> dict:
    """No training of its own: the gradient-norm logs of the table3 runs."""
    t3 = load_section(opts, "table3")
    if t3 is None:
        raise RuntimeError("the lipschitz section reads the table3 runs: run the table3 section first.")
    keep = ("step", "grad_norm_real", "grad_norm_fake", "d_real", "d_fake", "perturbation_norm")
    runs = [
        {"row": r["row"], "reg": r["reg"], "seed": r["seed"], "logs": [{k: l.get(k) for k in keep} for l in r["logs"]]}
        for r in t3["data"]["runs"] if r["reg"] in LIPSCHITZ_REGS
    ]
    return {"runs": runs}


def section_cost(opts: StudyOptions) -> dict:
    bench = os.path.join("benchmarks", "results.json")
    if opts.quick:
        bench = os.path.join(opts.artefacts, "benchmark_quick.json")
        subprocess.run([sys.executable, os.path.join("benchmarks", "run_all.py"), "--quick", "--tables=step",
                        f"--results={bench}", f"--out={os.path.join(opts.artefacts, 'benchmark_quick.md')}"], check=True)
    elif not opts.cost_reuse:
        subprocess.run([sys.executable, os.path.join("benchmarks", "run_all.py"), "--tables=step"], check=True)
    with open(bench) as f:
        table = json.load(f)["tables"]["step"]
    nets = {}
    for net, entry in table["data"]["nets"].items():
        base = entry["results"]["none"]["median_s"]
        nets[net] = {
            "settings": entry["settings"],
            "seconds": {reg: r["median_s"] for reg, r in entry["results"].items()},
            "ratio": {reg: r["median_s"] / base for reg, r in entry["results"].items()},
        }
    return {"source": bench, "date": table["date"], "command": table["command"], "wall_s": table.get("wall_s"),
            "quick": table.get("quick", False), "nets": nets}


SECTION_FUNCTIONS = {name: globals()[f"section_{name}"] for name in SECTIONS}


def run_sections(opts: StudyOptions, sections=SECTIONS, log=print) -> dict:
    """Runs ``sections`` in order, storing each one's JSON as it finishes; then renders the page."""
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown sections {unknown}; expected some of {list(SECTIONS)}.")
    if not isinstance(opts.workers, int) or opts.workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {opts.workers!r}.")
    for name in sections:
        log(f"[{_now()}] section {name} ...")
        start = time.time()
        data = SECTION_FUNCTIONS[name](opts)
        seconds = time.time() - start
        _write_json(opts, name, {"section": name, "seconds": seconds, "date": _now(), "quick": opts.quick,
                                 "machine": machine(), "data": data})
        log(f"[{_now()}] section {name} done in {seconds / 60:.1f} min")
    return render(opts)


def _now():
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


def render(opts: StudyOptions) -> str:
    """Writes ``<out_dir>/results.md`` from the stored sections; returns its path."""
    from dat_tf.experiments.render import render_page

    return render_page(opts)
