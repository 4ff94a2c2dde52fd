"""Figures 4 and 5 in miniature: DCGAN and WGAN over the figures' lr / beta1 / n_dis, with and without DAT.

Each setting of :data:`dat_study.paper.FIGURES45_SETTINGS` trains its
flagfile and its ``_dat`` twin on digits, with FID/KID/IS curves over training
(an evaluation every ``curve_fraction`` of the budget) and the training logs (``d_real``,
``d_fake``, ... every ``figures45_log_every`` steps).  Figure 5's two claims
are read from them by the rules below (:func:`is_decline`, :func:`w_size`,
:func:`w_instability`), fixed before the runs.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from dat_study import convergence, pilot, stats, verdicts
from dat_study.common import band, digits_overrides, finish_axes, per_seed, progress, pyplot, slim, tail_mean
from dat_study.paper import FIGURES45_SETTINGS
from dat_study.parallel import map_processes
from dat_study.runner import RunSpec, metric, run_one

WGAN_IT1, WGAN_IT5 = "wgan_cifar10_lr5e-05_b0.5_it1", "wgan_cifar10_lr5e-05_b0.5_it5"
CLIPPED = (WGAN_IT1, WGAN_IT5)  # the paper's WGAN settings (weight clipping 0.01)


def ours_stem(clip) -> str:
    return f"ours_wgan_it5_clip{clip:g}"


def settings(opts) -> list:
    """``[(title, stem, pilot family, flagfile stem, overrides, kind)]``: the paper's six and our own (if the
    pilot found a clip at which DAT acts)."""
    chosen = tuple(opts.figures45_stems)
    allowed = [stem for _, stem in FIGURES45_SETTINGS] + ["ours"]
    unknown = [s for s in chosen if s not in allowed]
    if unknown:
        raise ValueError(f"figures45_stems {unknown} not allowed; expected some of {allowed}.")
    out = [(title, stem, stem, stem, {}, "paper") for title, stem in FIGURES45_SETTINGS
           if not chosen or stem in chosen]
    clip = pilot.stored(opts).get("ours")
    if clip is not None and (not chosen or "ours" in chosen):
        out.append((f"ours: WGAN lr 5e-5, b1 0.5, it 5, clip {clip:g}", ours_stem(clip), pilot.ours_family(clip),
                    pilot.OURS_BASE, {"d_weight_clip": float(clip)}, "ours"))
    return out


def run_specs(opts) -> dict:
    """``{(stem, arm, seed): RunSpec}`` in the order they run: the paper's settings, ours, then the reference
    variant of DAT in the clipped WGAN settings (its perturbation is reported, not tested)."""
    order = []
    sets = settings(opts)
    for kind in ("paper", "ours"):
        order += [(st, arm, seed) for seed in opts.figures45_seeds for st in sets if st[5] == kind
                  for arm in ("none", "dat")]
    order += [(st, "dat_reference", seed) for seed in opts.figures45_reference_seeds for st in sets
              if st[1] in CLIPPED]
    specs = {}
    for (title, stem, family, flag_stem, extra, kind), arm, seed in order:
        budget = pilot.budget(opts, family)
        flagfile = os.path.join(opts.configs_dir, flag_stem + ("" if arm == "none" else "_dat") + ".flags")
        run_dir = os.path.join(opts.runs_dir, "figures45", f"{stem}_{arm}_seed{seed}")
        over = dict(digits_overrides(opts, run_dir, seed, budget), log_every=opts.figures45_log_every, **extra)
        if arm == "dat_reference":
            over["dat_variant"] = "reference"
        every = convergence.curve_every(budget, opts.curve_fraction)
        specs[(stem, arm, seed)] = RunSpec.make(flagfile, over, curve_every=every,
                                                eval_samples=opts.eval_samples)
    return specs


def run_section(opts) -> dict:
    specs = run_specs(opts)
    results = map_processes(run_one, list(specs.values()), opts.workers, progress("figures45", opts))
    runs = [dict(slim(r), stem=k[0], arm=k[1], seed=k[2]) for k, r in zip(specs, results)]
    return {"runs": runs, "settings": [{"title": t, "stem": st, "family": f, "kind": k, "overrides": o}
                                       for t, st, f, _, o, k in settings(opts)],
            "log_every": opts.figures45_log_every, "eval_samples": opts.eval_samples,
            "resolution": opts.resolution}


# ------------------------------------------------------------------ Figure 5's measures

IS_MARGIN = 0.05  # a logged IS more than 5% below its running peak is "in decline" (fixed before the runs)


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


def _chosen(runs, stem, arm):
    return [r for r in runs if r["stem"] == stem and r["arm"] == arm]


def failed_by_seed(runs, stem, arm) -> dict:
    """``{seed: did not learn}`` of an arm (:func:`dat_study.stats.run_failed`)."""
    return per_seed(runs, lambda r: stats.run_failed(metric(r, "fid_train"), r["final"].get("is")),
                    stem=stem, arm=arm)


def perturbation_shares(runs, stem, arm="dat") -> list:
    return [tail_mean(r["logs"], "perturbation_ratio") for r in _chosen(runs, stem, arm)]


def cannot_move(runs, stem) -> tuple:
    """A "GAN + DAT vs GAN" cell's *failed* or *inactive* reason in setting ``stem``, and the arm that loses it by
    not learning (:func:`dat_study.stats.failed_cell`; each None if none)."""
    none_failed = stats.arm_failed(failed_by_seed(runs, stem, "none"))
    reason, lost = stats.failed_cell(none_failed, stats.arm_failed(failed_by_seed(runs, stem, "dat")), none_failed,
                                     names=("GAN + DAT", "GAN"), setting="the setting")
    return reason or stats.inactive_reason(perturbation_shares(runs, stem)), lost


def _cells_of(runs, stem, with_is_decline) -> dict:
    why, lost = cannot_move(runs, stem)
    out = {("dat", stem): stats.paired(_fid(runs, stem, "dat"), _fid(runs, stem, "none"), True, cannot_move=why,
                                       failed_arm=lost)}
    names = (("is_decline",) if with_is_decline else ()) + (("w_size", "w_instability") if "wgan" in stem else ())
    for name in names:
        out[(name, stem)] = stats.paired(_figure5(runs, name, stem, "dat"), _figure5(runs, name, stem, "none"), True,
                                         cannot_move=why, failed_arm=lost)
    return out


def comparisons(runs, settings_=None) -> dict:
    """The paper's claims' cells (one Holm family; paired by seed).

    * ``("dat", stem)``: GAN + DAT against GAN, final FID, per setting of the figures.
    * Figure 5 (lower is better for each): ``("is_decline", WGAN it 5)``, the paper's "the IS decline is
      shortened with DAT"; ``("w_size", stem)`` and ``("w_instability", stem)`` for both WGAN settings,
      "the Wasserstein estimate is smaller and more stable with DAT".

    Each cell is *failed* or *inactive* by :func:`cannot_move` (the clipped WGAN's DAT step is about 1e-3 of an
    image).  Our own setting is :func:`ours_comparisons`.
    """
    stems = [st for _, st in FIGURES45_SETTINGS if any(r["stem"] == st for r in runs)]
    out = {}
    for stem in stems:
        cell = _cells_of(runs, stem, stem == WGAN_IT5)
        out[("dat", stem)] = cell.pop(("dat", stem))
        for k, v in cell.items():
            out[k] = v
    return dict(sorted(out.items(), key=lambda kv: ("dat", "is_decline", "w_size", "w_instability").index(kv[0][0])))


def ours_comparisons(runs) -> dict:
    """Our own setting's cells (not the paper's: a Holm family of its own): FID, IS decline, W size and stability."""
    stems = sorted({r["stem"] for r in runs if r["stem"].startswith("ours_")})
    out = {}
    for stem in stems:
        out.update(_cells_of(runs, stem, True))
    return out


def lr_claim(runs) -> verdicts.Claim | None:
    """Figure 4's "plain DCGAN cannot be trained at lr 2e-3": supported when its runs did not learn in most seeds,
    the opposite shown when they learned in every seed (the rule of :func:`dat_study.stats.run_failed`)."""
    failed = failed_by_seed(runs, HIGH_LR, "none")
    if not failed:
        return None
    n, k = len(failed), sum(failed.values())
    fids = list(_fid(runs, HIGH_LR, "none").values())
    low = list(_fid(runs, LOW_LR, "none").values())
    what = (f"plain DCGAN at lr 2e-3 did not learn in {k} of {n} seeds (final FID {verdicts.mean_sd(fids)}; at lr "
            f"2e-4 {verdicts.mean_sd(low)})")
    outcome = "better" if 2 * k > n else ("worse" if k == 0 else "tie")
    cell = verdicts.Cell(what, outcome, float("nan"), n, None, 1, what)
    return verdicts.Claim("Plain DCGAN cannot be trained at lr 2e-3 (Figure 4)",
                          "plain DCGAN at lr 2e-3: seeds that did not learn", (cell,), effect_text=what)


def _fmt_measure(runs, stem, arm, name, digits=3):
    return verdicts.mean_sd([_measure(r, FIGURE5_MEASURES[name][0], FIGURE5_MEASURES[name][1])
                             for r in _chosen(runs, stem, arm)], digits)


def _label(titles, key) -> str:
    short = {"is_decline": "IS decline", "w_size": "W size", "w_instability": "W instability"}
    if key[0] == "dat":
        return f"{titles[key[1]]}: GAN + DAT vs GAN (final FID)"
    return f"{titles[key[1]]}, {short[key[0]]}: GAN + DAT vs GAN"


def section_markdown(opts, sec):
    data = sec["data"]
    runs = data["runs"]
    sets = data.get("settings") or [{"title": t, "stem": st, "kind": "paper"} for t, st in FIGURES45_SETTINGS]
    titles = {x["stem"]: x["title"] for x in sets}
    n_seeds = len({r["seed"] for r in runs if r["arm"] == "none"})
    samples, res = data.get("eval_samples"), data.get("resolution", opts.resolution)
    steps = {st: "/".join(str(n) for n in sorted({r["config"]["n_iter"] for r in runs if r["stem"] == st}))
             for st in titles}
    lines = [f"Final FID (digits classifier, train split) at each setting's pilot budget, {n_seeds} seeds, "
             f"mean ± sample std over seeds ({samples} generated samples per evaluation); † marks an arm that did not "
             "learn; curves in the plots.", "",
             "| setting | steps | GAN | GAN + DAT | DAT's perturbation / inputs' norm | end-of-training improvement "
             "(GAN / GAN + DAT) |", "|---|---:|---:|---:|---:|---|"]
    for x in sets:
        st = x["stem"]
        if not _chosen(runs, st, "none"):
            continue
        cells = []
        for arm in ("none", "dat"):
            v = verdicts.mean_sd(list(_fid(runs, st, arm).values()))
            cells.append(v + (" †" if stats.arm_failed(failed_by_seed(runs, st, arm)) else ""))
        imp = []
        for arm in ("none", "dat"):
            v = [convergence.end_improvement(convergence.curve_of(r)) for r in _chosen(runs, st, arm) if r.get("curve")]
            v = [u for u in v if np.isfinite(u)]
            imp.append(f"{100 * np.mean(v):+.1f}%" if v else "-")
        lines.append(f"| {x['title']} | {steps[st]} | {cells[0]} | {cells[1]} | "
                     f"{verdicts.mean_sd(perturbation_shares(runs, st), 4)} | {' / '.join(imp)} |")
    lines += ["", "**DAT under weight clipping.** The paper's WGAN clips D's weights at 0.01, so D's input gradients, "
              "and with them DAT's step (epsilon 1 times the gradient), are tiny. Mean per-example L2 norm of DAT's "
              "perturbation and its share of the inputs' norm (last quarter of training, mean ± sample std over "
              "seeds), both variants:", "",
              "| setting | variant | seeds | perturbation norm | / inputs' norm |", "|---|---|---:|---:|---:|"]
    for x in sets:
        st = x["stem"]
        for arm, variant in (("dat", "paper"), ("dat_reference", "reference")):
            chosen = _chosen(runs, st, arm)
            if not chosen or (arm == "dat" and st not in CLIPPED and x.get("kind") != "ours"):
                continue
            norms = [tail_mean(r["logs"], "perturbation_norm") for r in chosen]
            lines.append(f"| {x['title']} | {variant} | {len(chosen)} | {verdicts.mean_sd(norms, 4)} | "
                         f"{verdicts.mean_sd(perturbation_shares(runs, st, arm), 4)} |")
    fig5 = [x for x in sets if "wgan" in x["stem"] or x.get("kind") == "ours"]
    lines += ["", "**Figure 5 (WGAN), from the runs' logs.** Measures fixed before the runs (all lower = better): "
              f"*IS decline*, the share of the IS evaluations during training (every 5% of the budget) lying more than "
              f"{IS_MARGIN:.0%} below the running peak of IS (the paper's \"time of the decline process\", at it = 5); "
              "*W size*, the mean of |d_real - d_fake| (the critic's Wasserstein estimate, epoch means of D's outputs "
              f"every {data.get('log_every')} steps) over the second half of training; *W instability*, the sample std "
              "of its step-to-step changes over the second half. IS drawdown (mean of running peak - IS) is shown, not "
              "tested.", "",
              "| setting | arm | IS decline | IS drawdown | W size | W instability | final IS |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for x in fig5:
        st = x["stem"]
        for arm in ("none", "dat"):
            chosen = _chosen(runs, st, arm)
            if not chosen:
                continue
            vals = [_fmt_measure(runs, st, arm, "is_decline"),
                    verdicts.mean_sd([_measure(r, is_drawdown, "curve") for r in chosen], 3),
                    _fmt_measure(runs, st, arm, "w_size"), _fmt_measure(runs, st, arm, "w_instability"),
                    verdicts.mean_sd([metric(r, "is") for r in chosen])]
            lines.append(f"| {x['title']} | {'GAN + DAT' if arm == 'dat' else 'GAN'} | " + " | ".join(vals) + " |")
    cells = verdicts.decide(comparisons(runs))
    ours = verdicts.decide(ours_comparisons(runs))
    lines += ["", "Cells of the paper's claims (paired by seed; one Holm family):", ""]
    lines += verdicts.cells_table([(_label(titles, k), c) for k, c in cells.items()], digits=3)
    if ours:
        lines += ["", "Our own setting (not the paper's; a Holm family of its own):", ""]
        lines += verdicts.cells_table([(_label(titles, k), c) for k, c in ours.items()], digits=3)
    lr = lr_claim(runs)
    if lr:
        lines += ["", f"Figure 4's high learning rate: {lr.cells[0].note}."]
    if opts.draw:
        _plot(opts, runs, sets)
        _plot_figure5(opts, runs, fig5)
    lines += ["", "![Figures 4/5 in miniature](results/figures45.png)", "",
              "![Figure 5: IS and the Wasserstein estimate over training](results/figure5.png)"]
    # the scope is also read apart from the section (the README's table); a setting without runs has no budget
    budgets = sorted({n for v in steps.values() for n in v.split("/") if n}, key=int)
    all_steps = (f"{budgets[0]} steps in every setting" if len(budgets) == 1
                 else f"{'/'.join(budgets)} steps by setting (the section's table)")
    scope = (f"digits at {res}x{res}, the digits classifier, {all_steps}, {samples} samples per evaluation, "
             f"{n_seeds} seeds")
    named = {k: verdicts.named(c, _label(titles, k)) for k, c in {**cells, **ours}.items()}
    pick = lambda kinds, ours_=False: tuple(  # noqa: E731
        c for k, c in named.items() if k[0] in kinds and k[1].startswith("ours_") == ours_)
    claims = [verdicts.Claim("DAT improves the final FID across settings", "final FID on digits, 6 settings",
                             pick(("dat",)), scope)]
    if lr:
        claims.append(dataclasses.replace(lr, scope=scope))
    for text, names in (("WGAN at it = 5: the IS decline is shorter with DAT", ("is_decline",)),
                        ("WGAN: the Wasserstein estimate is smaller with DAT", ("w_size",)),
                        ("WGAN: the Wasserstein estimate is more stable with DAT", ("w_instability",))):
        sub = pick(names)
        if sub:
            claims.append(verdicts.Claim(text, "WGAN settings (clip 0.01), " + ", ".join(names), sub, scope, digits=3))
    if pick(("dat", "is_decline", "w_size", "w_instability"), True):
        claims.append(verdicts.Claim(
            "(Ours, not the paper's setting: WGAN with a wider clip, where DAT acts) DAT improves the final FID, "
            "shortens the IS decline and makes the Wasserstein estimate smaller and steadier",
            "our WGAN setting: FID, IS decline, W size, W instability",
            pick(("dat", "is_decline", "w_size", "w_instability"), True), scope, digits=3))
    return lines, claims, claims[0].verdict.word


def _plot(opts, runs, sets):
    plt = pyplot()
    fig, axes = plt.subplots(2, 4, figsize=(16, 6), squeeze=False)
    for ax in list(axes.flat)[len(sets):]:
        ax.axis("off")
    for ax, (title, stem) in zip(axes.flat, [(x["title"], x["stem"]) for x in sets]):
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
    os.makedirs(opts.artefacts, exist_ok=True)
    fig.savefig(os.path.join(opts.artefacts, "figures45.png"), dpi=100)
    plt.close(fig)


def _plot_figure5(opts, runs, sets):
    """IS (top) and d_real - d_fake (bottom) over training for the WGAN settings, mean ± sample std over seeds."""
    plt = pyplot()
    titles = {x["stem"]: x["title"] for x in sets}
    stems = [x["stem"] for x in sets]
    fig, axes = plt.subplots(2, len(stems), figsize=(5 * len(stems), 6), squeeze=False)
    for col, stem in enumerate(stems):
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
    os.makedirs(opts.artefacts, exist_ok=True)
    fig.savefig(os.path.join(opts.artefacts, "figure5.png"), dpi=100)
    plt.close(fig)
