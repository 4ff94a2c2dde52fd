"""Figures 4 and 5 in miniature: DCGAN and WGAN over the figures' lr / beta1 / n_dis, with and without DAT.

Each setting of :data:`dat_tf.experiments.paper.FIGURES45_SETTINGS` trains its
flagfile and its ``_dat`` twin on digits, with an FID curve over training.
"""

from __future__ import annotations

import os

import numpy as np

from dat_tf.experiments import verdicts
from dat_tf.experiments.common import band, digits_overrides, finish_axes, fmt, pyplot, slim
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


def section_markdown(opts, sec):
    runs = sec["data"]["runs"]
    lines = ["Final FID (digits classifier, train split), mean ± std over seeds; curves in the plot.", "",
             "| setting | GAN | GAN + DAT | DAT vs GAN |", "|---|---:|---:|---|"]
    outs = []
    for title, stem in FIGURES45_SETTINGS:
        vals = {arm: [metric(r, "fid_train") for r in runs if r["stem"] == stem and r["arm"] == arm]
                for arm in ("none", "dat")}
        if not vals["none"]:
            continue
        o = verdicts.compare(vals["dat"], vals["none"])
        outs.append(o)
        lines.append(f"| {title} | {fmt(vals['none'])} | {fmt(vals['dat'])} | {o} |")
    _plot(opts, runs)
    lines += ["", "![Figures 4/5 in miniature](results/figures45.png)"]
    v = verdicts.verdict(outs)
    summary = [f"DAT improves the final FID across settings: **{v}** ({verdicts.counts(outs)})"]
    high = [metric(r, "fid_train") for r in runs if r["stem"] == "dcgan_cifar10_lr0.002_b0.5_it1" and r["arm"] == "none"]
    low = [metric(r, "fid_train") for r in runs if r["stem"] == "dcgan_cifar10_lr0.0002_b0.5_it1" and r["arm"] == "none"]
    if high and low:
        o = verdicts.compare(high, low)
        summary.append(f"Plain DCGAN at lr 2e-3 vs lr 2e-4 (the paper: it cannot be trained at 2e-3): FID "
                       f"{fmt(high)} vs {fmt(low)}, i.e. **{o}**; it "
                       f"{'diverged' if not np.all(np.isfinite(high)) else 'trained'} here.")
    return lines, summary, v


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
