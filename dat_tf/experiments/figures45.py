"""Figures 4 and 5 in miniature: DCGAN and WGAN over the figures' lr / beta1 / n_dis, with and without DAT.

Each setting of :data:`dat_tf.experiments.paper.FIGURES45_SETTINGS` trains its
flagfile and its ``_dat`` twin on digits, with an FID curve over training.
"""

from __future__ import annotations

import os

import numpy as np

from dat_tf.experiments import stats, verdicts
from dat_tf.experiments.common import band, digits_overrides, finish_axes, fmt, per_seed, pyplot, slim, steps_of
from dat_tf.experiments.paper import FIGURES45_SETTINGS
from dat_tf.experiments.parallel import map_processes
from dat_tf.experiments.runner import RunSpec, metric, run_one


def run_section(opts) -> dict:
    specs = {}
    for title, stem in FIGURES45_SETTINGS:
        for arm in ("none", "dat"):
            for seed in opts.figures45_seeds:
                flagfile = os.path.join(opts.configs_dir, stem + ("_dat" if arm == "dat" else "") + ".flags")
                run_dir = os.path.join(opts.runs_dir, "figures45", f"{stem}_{arm}_seed{seed}")
                specs[(stem, arm, seed)] = RunSpec.make(
                    flagfile, digits_overrides(opts, run_dir, seed, opts.figures45_iters),
                    curve_every=opts.figures45_curve_every, eval_samples=opts.eval_samples,
                )
    results = map_processes(run_one, list(specs.values()), opts.workers)
    runs = [dict(slim(r), stem=k[0], arm=k[1], seed=k[2]) for k, r in zip(specs, results)]
    return {"runs": runs}


# ------------------------------------------------------------------ the page


HIGH_LR, LOW_LR = "dcgan_cifar10_lr0.002_b0.5_it1", "dcgan_cifar10_lr0.0002_b0.5_it1"


def _fid(runs, stem, arm) -> dict:
    return per_seed(runs, lambda r: metric(r, "fid_train"), stem=stem, arm=arm)


def comparisons(runs) -> dict:
    """The section's cells (final FID, paired by seed; Holm over all of them).

    * ``("dat", stem)``: GAN + DAT against GAN, per setting of the figures.
    * ``("lr",)``: plain DCGAN at lr 2e-4 against lr 2e-3 (the paper: 2e-3 cannot be trained).
    """
    out = {}
    for _, stem in FIGURES45_SETTINGS:
        if any(r["stem"] == stem for r in runs):
            out[("dat", stem)] = stats.paired(_fid(runs, stem, "dat"), _fid(runs, stem, "none"), True)
    if any(r["stem"] == HIGH_LR for r in runs) and any(r["stem"] == LOW_LR for r in runs):
        out[("lr",)] = stats.paired(_fid(runs, LOW_LR, "none"), _fid(runs, HIGH_LR, "none"), True)
    return out


def section_markdown(opts, sec):
    runs = sec["data"]["runs"]
    n_seeds = len({r["seed"] for r in runs})
    lines = [f"Final FID (digits classifier, train split) after {steps_of(runs)} generator steps, {n_seeds} seeds, "
             "mean ± sample std over seeds (generated samples per evaluation: not stored in the section's JSON); "
             "curves in the plot.", "",
             "| setting | GAN | GAN + DAT |", "|---|---:|---:|"]
    for title, stem in FIGURES45_SETTINGS:
        vals = {arm: [metric(r, "fid_train") for r in runs if r["stem"] == stem and r["arm"] == arm]
                for arm in ("none", "dat")}
        if vals["none"]:
            lines.append(f"| {title} | {fmt(vals['none'])} | {fmt(vals['dat'])} |")
    cells = verdicts.decide(comparisons(runs))
    titles = dict((stem, title) for title, stem in FIGURES45_SETTINGS)
    rows = [(f"{titles[k[1]]}: GAN + DAT vs GAN", c) for k, c in cells.items() if k[0] == "dat"]
    if ("lr",) in cells:
        rows.append(("plain DCGAN: lr 2e-4 vs lr 2e-3", cells[("lr",)]))
    lines += ["", "Cells (final FID, paired by seed):", ""] + verdicts.cells_table(rows)
    _plot(opts, runs)
    lines += ["", "![Figures 4/5 in miniature](results/figures45.png)"]
    setup = f"final FID on digits, {steps_of(runs)} steps, {n_seeds} seeds"
    dat_cells = tuple(c for k, c in cells.items() if k[0] == "dat")
    claims = [verdicts.Claim("DAT improves the final FID across settings", setup + f", {len(dat_cells)} settings",
                             dat_cells)]
    if ("lr",) in cells:
        high = [metric(r, "fid_train") for r in runs if r["stem"] == HIGH_LR and r["arm"] == "none"]
        trained = "diverged" if not np.all(np.isfinite(high)) else "trained (finite FID in every seed)"
        claims.append(verdicts.Claim(
            f"Plain DCGAN is worse at lr 2e-3 than at lr 2e-4 (the paper: it cannot be trained at 2e-3; here it "
            f"{trained})", setup + ", plain DCGAN", (cells[("lr",)],)))
    return lines, claims, claims[0].verdict.word


def _plot(opts, runs):
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), squeeze=False)
    for ax, (title, stem) in zip(axes.flat, FIGURES45_SETTINGS):
        for arm, color in (("none", "0.4"), ("dat", "tab:red")):
            curves = [r["curve"] for r in runs if r["stem"] == stem and r["arm"] == arm and r["curve"]]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            steps = [c["step"] for c in curves[0][:n]]
            vals = np.array([[c[i].get("fid_train", np.nan) for i in range(n)] for c in curves], np.float64)
            band(ax, steps, vals, color, "GAN + DAT" if arm == "dat" else "GAN")
        ax.set_ylabel("FID (digits)", fontsize=8)
        finish_axes(ax, title)
    fig.tight_layout()
    fig.savefig(os.path.join(opts.artefacts, "figures45.png"), dpi=100)
    plt.close(fig)
