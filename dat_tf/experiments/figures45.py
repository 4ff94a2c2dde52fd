"""Figures 4 and 5 in miniature: DCGAN and WGAN over the figures' lr / beta1 / n_dis, with and without DAT.

Each setting of :data:`dat_tf.experiments.paper.FIGURES45_SETTINGS` trains its
flagfile and its ``_dat`` twin on digits, with FID/KID/IS curves over training
(every ``figures45_curve_every`` steps) and the training logs (``d_real``,
``d_fake``, ... every ``figures45_log_every`` steps).  Figure 5's two claims
are read from them by the rules below (:func:`is_decline`, :func:`w_size`,
:func:`w_instability`), fixed before the runs.
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
                overrides = dict(digits_overrides(opts, run_dir, seed, opts.figures45_iters),
                                 log_every=opts.figures45_log_every)
                specs[(stem, arm, seed)] = RunSpec.make(
                    flagfile, overrides,
                    curve_every=opts.figures45_curve_every, eval_samples=opts.eval_samples,
                )
    results = map_processes(run_one, list(specs.values()), opts.workers)
    runs = [dict(slim(r), stem=k[0], arm=k[1], seed=k[2]) for k, r in zip(specs, results)]
    return {"runs": runs, "curve_every": opts.figures45_curve_every, "log_every": opts.figures45_log_every,
            "eval_samples": opts.eval_samples}


# ------------------------------------------------------------------ Figure 5's measures

IS_MARGIN = 0.05  # a logged IS more than 5% below its running peak is "in decline" (fixed before the runs)
WGAN_IT1, WGAN_IT5 = "wgan_cifar10_lr5e-05_b0.5_it1", "wgan_cifar10_lr5e-05_b0.5_it5"
FIGURE5_STEMS = (WGAN_IT1, WGAN_IT5)


def is_decline(curve, margin=IS_MARGIN) -> float:
    """The share of the logged IS points that lie more than ``margin`` below the running peak of IS.

    The paper's "time of the decline process": each evaluation is in decline when its IS is below
    ``(1 - margin) * max(IS so far)``; the share of evaluations in decline is the share of training spent
    in a decline (the points are evenly spaced).  NaN without points.

    >>> is_decline([{"is": 2.0}, {"is": 4.0}, {"is": 3.0}, {"is": 3.9}, {"is": 5.0}])
    0.2
    """
    v = np.array([np.nan if c.get("is") is None else c["is"] for c in curve], np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)):
        return float("nan")
    peak = np.maximum.accumulate(v)
    return float(np.mean(v < (1.0 - margin) * peak))


def is_drawdown(curve) -> float:
    """The mean over the logged points of (running peak of IS - IS): the decline's area per point (not tested)."""
    v = np.array([np.nan if c.get("is") is None else c["is"] for c in curve], np.float64)
    if v.size == 0 or not np.all(np.isfinite(v)):
        return float("nan")
    return float(np.mean(np.maximum.accumulate(v) - v))


def w_estimate(logs) -> np.ndarray:
    """The critic's Wasserstein estimate ``d_real - d_fake`` per logged epoch (epoch means of D's outputs)."""
    return np.array([np.nan if r.get("d_real") is None or r.get("d_fake") is None else r["d_real"] - r["d_fake"]
                     for r in logs], np.float64)


def _second_half(logs):
    w = w_estimate(logs)
    return w[len(w) // 2:]


def w_size(logs) -> float:
    """Mean ``|d_real - d_fake|`` over the second half of the logged epochs (NaN if any is non-finite).

    >>> w_size([{"d_real": 1.0, "d_fake": 0.0}, {"d_real": 3.0, "d_fake": 1.0}, {"d_real": 0.0, "d_fake": 4.0}])
    3.0
    """
    w = _second_half(logs)
    return float(np.mean(np.abs(w))) if w.size and np.all(np.isfinite(w)) else float("nan")


def w_instability(logs) -> float:
    """Sample std of the step-to-step changes of ``d_real - d_fake`` over the second half (NaN below 3 points).

    >>> w_instability([{"d_real": w, "d_fake": 0.0} for w in (9.0, 9.0, 9.0, 1.0, 2.0, 4.0)])  # changes 1, 2
    0.7071067811865476
    """
    w = _second_half(logs)
    if w.size < 3 or not np.all(np.isfinite(w)):
        return float("nan")
    return float(np.std(np.diff(w), ddof=1))


def _measure(run, fn, source):
    """``fn`` of a run's curve or logs; NaN for a run that diverged (the worst outcome under the rules)."""
    if run.get("diverged_at") is not None:
        return float("nan")
    return fn(run[source])


FIGURE5_MEASURES = {  # name -> (function, what it reads, title); all lower-is-better
    "is_decline": (is_decline, "curve", f"IS decline (share of evaluations > {IS_MARGIN:.0%} below the running peak)"),
    "w_size": (w_size, "logs", "mean |d_real - d_fake|, second half"),
    "w_instability": (w_instability, "logs", "std of step-to-step changes of d_real - d_fake, second half"),
}


# ------------------------------------------------------------------ the page


HIGH_LR, LOW_LR = "dcgan_cifar10_lr0.002_b0.5_it1", "dcgan_cifar10_lr0.0002_b0.5_it1"


def _fid(runs, stem, arm) -> dict:
    return per_seed(runs, lambda r: metric(r, "fid_train"), stem=stem, arm=arm)


def _figure5(runs, name, stem, arm) -> dict:
    fn, source, _ = FIGURE5_MEASURES[name]
    return per_seed(runs, lambda r: _measure(r, fn, source), stem=stem, arm=arm)


def comparisons(runs) -> dict:
    """The section's cells (paired by seed; Holm over all of them).

    * ``("dat", stem)``: GAN + DAT against GAN, final FID, per setting of the figures.
    * ``("lr",)``: plain DCGAN at lr 2e-4 against lr 2e-3, final FID (the paper: 2e-3 cannot be trained).
    * Figure 5 (lower is better for each): ``("is_decline", WGAN it 5)``, the paper's "the IS decline is
      shortened with DAT"; ``("w_size", stem)`` and ``("w_instability", stem)`` for both WGAN settings,
      "the Wasserstein estimate is smaller and more stable with DAT".
    """
    out = {}
    stems = {r["stem"] for r in runs}
    for _, stem in FIGURES45_SETTINGS:
        if stem in stems:
            out[("dat", stem)] = stats.paired(_fid(runs, stem, "dat"), _fid(runs, stem, "none"), True)
    if HIGH_LR in stems and LOW_LR in stems:
        out[("lr",)] = stats.paired(_fid(runs, LOW_LR, "none"), _fid(runs, HIGH_LR, "none"), True)
    if WGAN_IT5 in stems:
        out[("is_decline", WGAN_IT5)] = stats.paired(_figure5(runs, "is_decline", WGAN_IT5, "dat"),
                                                     _figure5(runs, "is_decline", WGAN_IT5, "none"), True)
    for name in ("w_size", "w_instability"):
        for stem in FIGURE5_STEMS:
            if stem in stems:
                out[(name, stem)] = stats.paired(_figure5(runs, name, stem, "dat"), _figure5(runs, name, stem, "none"),
                                                 True)
    return out


def section_markdown(opts, sec):
    runs = sec["data"]["runs"]
    n_seeds = len({r["seed"] for r in runs})
    curve_every, samples = sec["data"].get("curve_every"), sec["data"].get("eval_samples")  # absent in older files
    lines = [f"Final FID (digits classifier, train split) after {steps_of(runs)} generator steps, {n_seeds} seeds, "
             "mean ± sample std over seeds "
             + (f"({samples} generated samples per evaluation)" if samples else
                "(generated samples per evaluation: not stored in the section's JSON)") + "; curves in the plot.", "",
             "| setting | GAN | GAN + DAT |", "|---|---:|---:|"]
    for title, stem in FIGURES45_SETTINGS:
        vals = {arm: [metric(r, "fid_train") for r in runs if r["stem"] == stem and r["arm"] == arm]
                for arm in ("none", "dat")}
        if vals["none"]:
            lines.append(f"| {title} | {fmt(vals['none'])} | {fmt(vals['dat'])} |")
    titles = dict((stem, title) for title, stem in FIGURES45_SETTINGS)
    log_steps = sorted({len(r["logs"]) for r in runs if r["stem"] in FIGURE5_STEMS})
    lines += ["", "**Figure 5 (WGAN), from the runs' logs.** Measures fixed before the runs (all lower = better): "
              f"*IS decline*, the share of the IS evaluations during training (every "
              f"{curve_every if curve_every else 'not stored'} steps) lying more than {IS_MARGIN:.0%} below the "
              "running peak of IS (the paper's \"time of the decline process\", at it = 5); *W size*, the mean of "
              "|d_real - d_fake| (the critic's Wasserstein estimate, epoch means of D's outputs; "
              f"{'/'.join(str(n) for n in log_steps) or 'no'} logged epochs per run) over the second half of training; "
              "*W instability*, the sample std of its step-to-step changes over the second half. IS drawdown (mean "
              "of running peak - IS) is shown, not tested.", "",
              "| setting | arm | IS decline | IS drawdown | W size | W instability | final IS |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for stem in FIGURE5_STEMS:
        for arm in ("none", "dat"):
            chosen = [r for r in runs if r["stem"] == stem and r["arm"] == arm]
            if not chosen:
                continue
            vals = [fmt([_measure(r, FIGURE5_MEASURES[n][0], FIGURE5_MEASURES[n][1]) for r in chosen], 3)
                    for n in ("is_decline",)]
            vals.append(fmt([_measure(r, is_drawdown, "curve") for r in chosen], 3))
            vals += [fmt([_measure(r, FIGURE5_MEASURES[n][0], FIGURE5_MEASURES[n][1]) for r in chosen], 3)
                     for n in ("w_size", "w_instability")]
            vals.append(fmt([metric(r, "is") for r in chosen]))
            lines.append(f"| {titles[stem]} | {'GAN + DAT' if arm == 'dat' else 'GAN'} | " + " | ".join(vals) + " |")
    cells = verdicts.decide(comparisons(runs))
    short = {"is_decline": "IS decline", "w_size": "W size", "w_instability": "W instability"}
    rows = [(f"{titles[k[1]]}: GAN + DAT vs GAN", c) for k, c in cells.items() if k[0] == "dat"]
    if ("lr",) in cells:
        rows.append(("plain DCGAN: lr 2e-4 vs lr 2e-3", cells[("lr",)]))
    rows += [(f"{titles[k[1]]}, {short[k[0]]}: GAN + DAT vs GAN", c) for k, c in cells.items() if k[0] in short]
    lines += ["", "Cells (paired by seed; final FID, and Figure 5's measures):", ""] + verdicts.cells_table(rows, digits=3)
    _plot(opts, runs)
    _plot_figure5(opts, runs)
    lines += ["", "![Figures 4/5 in miniature](results/figures45.png)", "",
              "![Figure 5: IS and the Wasserstein estimate over training](results/figure5.png)"]
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
    f5 = f"WGAN on digits, {steps_of(runs)} steps, {n_seeds} seeds"
    for text, names, where in (
            ("WGAN at it = 5: the IS decline is shorter with DAT", ("is_decline",), "it 5, IS every "
             f"{curve_every if curve_every else '?'} steps"),
            ("WGAN: the Wasserstein estimate is smaller with DAT", ("w_size",), "it 1 and 5, second half"),
            ("WGAN: the Wasserstein estimate is more stable with DAT", ("w_instability",), "it 1 and 5, second half")):
        sub = tuple(c for k, c in cells.items() if k[0] in names)
        if sub:
            claims.append(verdicts.Claim(text, f"{f5}, {where}", sub, digits=3))
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


def _plot_figure5(opts, runs):
    """IS (top) and d_real - d_fake (bottom) over training for the WGAN settings, mean ± sample std over seeds."""
    plt = pyplot()
    titles = dict((stem, title) for title, stem in FIGURES45_SETTINGS)
    fig, axes = plt.subplots(2, len(FIGURE5_STEMS), figsize=(5 * len(FIGURE5_STEMS), 6), squeeze=False)
    for col, stem in enumerate(FIGURE5_STEMS):
        for arm, color in (("none", "0.4"), ("dat", "tab:red")):
            label = "GAN + DAT" if arm == "dat" else "GAN"
            chosen = [r for r in runs if r["stem"] == stem and r["arm"] == arm]
            curves = [r["curve"] for r in chosen if r["curve"]]
            if curves:
                n = min(len(c) for c in curves)
                vals = np.array([[c[i].get("is", np.nan) for i in range(n)] for c in curves], np.float64)
                band(axes[0, col], [c["step"] for c in curves[0][:n]], vals, color, label)
            logs = [r["logs"] for r in chosen if r["logs"]]
            if logs:
                n = min(len(x) for x in logs)
                vals = np.array([w_estimate(x[:n]) for x in logs], np.float64)
                band(axes[1, col], [row["step"] for row in logs[0][:n]], vals, color, label)
        axes[0, col].set_ylabel("IS (digits)", fontsize=8)
        axes[1, col].set_ylabel("d_real - d_fake", fontsize=8)
        finish_axes(axes[0, col], titles.get(stem, stem))
        finish_axes(axes[1, col], titles.get(stem, stem))
    fig.tight_layout()
    fig.savefig(os.path.join(opts.artefacts, "figure5.png"), dpi=100)
    plt.close(fig)
