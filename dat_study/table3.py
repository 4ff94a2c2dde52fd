"""Table 3 in miniature: 3 losses x the regularizers on digits, on the paper's D, each row at its pilot budget.

The D is the one of the AR/RFM code base the paper follows for Table 3 (``configs/table3_*.flags``,
``--net=dcgan_rfm``: BatchNorm after every conv, no spectral norm); AR/RFM with the authors' batch
(Frobenius) norm.  Each loss row runs in **the reading the pilot chose** for it
(:data:`dat_study.pilot.TABLE3_READINGS`: the code base's sigmoid on D for LSGAN and WGAN
when that row's None learns, else D's logit) for its **pilot budget** of steps:

* ``main``: the verdicts' reading, eleven columns (the paper's nine, DAT and DATT in the ``paper``
  variant, and both in the ``reference`` variant), ``table3_seeds`` (5) each;
* ``other``: the other reading of the LSGAN and WGAN rows, a labelled arm shown beside it (None, DAT,
  0-GP, GP; ``table3_other_seeds``), not used by the verdicts.

Every run stores its FID curve (an evaluation every 5% of its budget), its date and code version.
The None, DAT and 0-GP runs of the main arm also measure D's gradient norms by correctness at the end
(:func:`dat_study.runner.measure_correctness`), which :mod:`.lipschitz` reads.

Rules of the page (fixed before the runs):

* ranks are by the mean over the seeds every column of a row holds (all of them once the section has run;
  the page prints that count, and a cell's own count where it differs);
* cells that cannot move are named, not counted (:mod:`dat_study.stats`): *failed* when the
  row's None did not learn or neither arm did; *inactive* when DAT's perturbation is under 1% of the
  inputs' norm; a column's own effect (perturbation or penalty share) is printed for every column;
* the paper's claims form one Holm family (DAT vs None per loss, DAT/DATT best of nine per loss, DAT vs
  0-GP under WGAN); the paper-vs-reference variant cells form their own.
"""

from __future__ import annotations

import math
import os

import numpy as np

from dat_study import convergence, pilot, stats, verdicts
from dat_study.common import digits_overrides, per_seed, progress, pyplot, slim, tail_mean
from dat_study.paper import PAPER_TABLE3, REG_TITLES, ROW_TITLES, TABLE3_LOSSES, TABLE3_REGS
from dat_study.parallel import map_processes
from dat_study.runner import RunSpec, metric, run_one

MAIN_COLUMNS = TABLE3_REGS + ("dat_reference", "datt_reference")
OTHER_COLUMNS = pilot.TABLE3_PILOT_REGS  # none, dat, zero_gp, gp
KEY_COLUMNS = ("none", "dat", "zero_gp")  # main arm, gradient norms by correctness measured
OURS = ("dat", "datt")  # the paper variant: the columns of the paper's claim
PERTURBING = ("dat", "datt", "asgan", "dat_reference", "datt_reference")
PENALTIES = ("gp", "lp", "zero_gp", "ar", "rfm")
ARM_TITLES = {"main": "the verdicts' reading", "other": "the other reading (labelled arm)"}


def readings(opts) -> dict:
    """``{row: reading}`` of the main arm, from the stored pilot."""
    return pilot.stored(opts)["readings"]


def other_readings(opts) -> dict:
    """``{row: reading}`` of the labelled arm (the rows with a second reading)."""
    chosen = readings(opts)
    return {row: r for row, rs in pilot.TABLE3_READINGS.items() for r in rs if r != chosen[row]}


def _spec(opts, arm, row, reading, reg, seed):
    budget = pilot.budget(opts, pilot.table3_family(row, reading))
    every = convergence.curve_every(budget, opts.curve_fraction)
    run_dir = os.path.join(opts.runs_dir, "table3", f"{reading}_{row}_{reg}_seed{seed}")
    over = dict(digits_overrides(opts, run_dir, seed, budget), d_sigmoid=reading == "sigmoid", log_every=every)
    measure = opts.correctness_batches if (arm == "main" and reg in KEY_COLUMNS) else 0
    return RunSpec.make(os.path.join(opts.configs_dir, f"table3_{row}_{reg}.flags"), over, curve_every=every,
                        eval_samples=opts.eval_samples, correctness_batches=measure)


def run_specs(opts) -> dict:
    """``{(arm, row, reg, seed): RunSpec}``, in the order they run: the paper's central columns (None, DAT, 0-GP,
    GP) of every row first, then the other columns, then the labelled arm."""
    main, other = readings(opts), other_readings(opts)
    chosen = tuple(opts.table3_columns) or MAIN_COLUMNS
    unknown = [c for c in chosen if c not in MAIN_COLUMNS]
    if unknown:
        raise ValueError(f"table3_columns {unknown} not allowed; expected some of {list(MAIN_COLUMNS)}.")
    order = []
    for cols in (OTHER_COLUMNS, tuple(c for c in MAIN_COLUMNS if c not in OTHER_COLUMNS)):
        order += [("main", row, reg, seed) for seed in opts.table3_seeds for row in TABLE3_LOSSES for reg in cols
                  if reg in chosen]
    if opts.table3_other_arm:
        order += [("other", row, reg, seed) for seed in opts.table3_other_seeds for row in other
                  for reg in OTHER_COLUMNS]
    return {(arm, row, reg, seed): _spec(opts, arm, row, (main if arm == "main" else other)[row], reg, seed)
            for arm, row, reg, seed in order}


def run_section(opts) -> dict:
    specs = run_specs(opts)
    results = map_processes(run_one, list(specs.values()), opts.workers, progress("table3", opts))
    runs = []
    for (arm, row, reg, seed), spec, r in zip(specs, specs.values(), results):
        over = dict(spec.overrides)
        runs.append(dict(slim(r), arm=arm, row=row, reg=reg, seed=seed, correctness=r.get("correctness"),
                         eval_samples=spec.eval_samples, reading="sigmoid" if over["d_sigmoid"] else "logit",
                         budget=over["n_iter"]))
    return {"runs": runs, "readings": readings(opts), "other_readings": other_readings(opts),
            "resolution": opts.resolution, "width": opts.width}


# ------------------------------------------------------------------ per-run numbers


def _fid(run, name="fid_train"):
    return metric(run, name) if "final" in run else np.nan


def _seeds(runs, arm, row, reg, name="fid_train") -> dict:
    return per_seed([r for r in runs if r.get("arm", "main") == arm], lambda r: _fid(r, name), row=row, reg=reg)


def shared(a: dict, b: dict) -> tuple:
    """``a`` and ``b`` restricted to the seeds both hold.

    >>> shared({0: 1.0, 1: 2.0, 2: 3.0}, {1: 5.0, 2: 6.0, 3: 7.0})
    ({1: 2.0, 2: 3.0}, {1: 5.0, 2: 6.0})
    """
    common = sorted(set(a) & set(b))
    return {s: a[s] for s in common}, {s: b[s] for s in common}


def row_means(runs, arm, row, cols) -> dict:
    """``{column: mean FID}`` over the seeds every present column of the row holds (inf if one diverged)."""
    per = {c: _seeds(runs, arm, row, c) for c in cols}
    per = {c: v for c, v in per.items() if v}
    common = shared_seeds(runs, arm, row, cols)
    out = {}
    for c, v in per.items():
        m = float(np.mean([v[s] for s in common])) if common else float("nan")
        out[c] = m if np.isfinite(m) else math.inf
    return out


def failed_by_seed(runs, arm, row, reg) -> dict:
    """``{seed: did not learn}`` of a column (:func:`dat_study.stats.run_failed`)."""
    return per_seed([r for r in runs if r.get("arm", "main") == arm],
                    lambda r: stats.run_failed(_fid(r), r["final"].get("is")), row=row, reg=reg)


def arm_failed(runs, arm, row, reg) -> bool:
    return stats.arm_failed(failed_by_seed(runs, arm, row, reg))


def effect_share(run, reg) -> float:
    """What a run's method did, over the last quarter of training: the perturbation over the inputs' norm
    (perturbing methods) or the penalty over D's loss without it (penalties); NaN otherwise."""
    logs = run.get("logs", [])
    if reg in PERTURBING:
        return tail_mean(logs, "perturbation_ratio")
    if reg in PENALTIES or reg.startswith("gp") or reg.startswith("zero_gp"):
        pen, d = tail_mean(logs, "reg"), tail_mean(logs, "d_loss")
        rest = d - pen
        return abs(pen) / abs(rest) if np.isfinite(pen) and np.isfinite(rest) and rest != 0 else float("nan")
    return float("nan")


def shares(runs, arm, row, reg) -> list:
    return [effect_share(r, reg) for r in runs if r.get("arm", "main") == arm and r["row"] == row and r["reg"] == reg]


def _cannot_move(runs, row, method, baseline, arm="main") -> tuple:
    """A cell's *failed* or *inactive* reason, and the arm that loses it by not learning
    (:func:`dat_study.stats.failed_cell`; each None if none)."""
    reason, lost = stats.failed_cell(arm_failed(runs, arm, row, "none"), arm_failed(runs, arm, row, method),
                                     arm_failed(runs, arm, row, baseline),
                                     names=(REG_TITLES.get(method, method), REG_TITLES.get(baseline, baseline)),
                                     setting=f"the {ROW_TITLES[row]} row")
    if reason is None and method in PERTURBING:
        reason = stats.inactive_reason(shares(runs, arm, row, method), what=f"{REG_TITLES[method]}'s perturbation")
    return reason, lost


def _paired(runs, row, method, baseline, arm="main"):
    a, b = shared(_seeds(runs, arm, row, method), _seeds(runs, arm, row, baseline))
    if not a:
        return None
    why, lost = _cannot_move(runs, row, method, baseline, arm)
    return stats.paired(a, b, True, cannot_move=why, failed_arm=lost)


def comparisons(runs) -> dict:
    """The paper's claims' cells (one Holm family), FID of the main arm, paired by seed.

    * ``("dat_vs_none", row)``: DAT against no regularization, per loss.
    * ``("best", row, ours, other)``: the better of DAT and DATT (paper variant) against the best of the
      other seven, both by :func:`row_means`.
    * ``("wgan_dat_vs_zero_gp",)``: the WGAN loss, DAT against 0-GP.
    """
    out = {}
    for row in TABLE3_LOSSES:
        c = _paired(runs, row, "dat", "none")
        if c:
            out[("dat_vs_none", row)] = c
    for row in TABLE3_LOSSES:
        means = row_means(runs, "main", row, TABLE3_REGS)
        if not all(r in means for r in OURS) or len(means) < 3:
            continue
        ours = min(OURS, key=lambda r: means[r])
        other = min((r for r in means if r not in OURS), key=lambda r: means[r])
        c = _paired(runs, row, ours, other)
        if c:
            out[("best", row, ours, other)] = c
    c = _paired(runs, "wgan", "dat", "zero_gp")
    if c:
        out[("wgan_dat_vs_zero_gp",)] = c
    return out


def variant_comparisons(runs) -> dict:
    """``("variant", row, reg)``: the paper variant of DAT/DATT against its reference variant (not a claim of the
    paper: a Holm family of its own)."""
    out = {}
    for row in TABLE3_LOSSES:
        for reg in OURS:
            c = _paired(runs, row, reg, f"{reg}_reference")
            if c:
                out[("variant", row, reg)] = c
    return out


# ------------------------------------------------------------------ the page


def _label(key) -> str:
    if key[0] == "dat_vs_none":
        return f"{ROW_TITLES[key[1]]} loss: DAT vs None"
    if key[0] == "best":
        return (f"{ROW_TITLES[key[1]]} loss: {REG_TITLES[key[2]]} (best of DAT/DATT) vs {REG_TITLES[key[3]]} "
                "(best of the other seven)")
    if key[0] == "variant":
        return f"{ROW_TITLES[key[1]]} loss: {REG_TITLES[key[2]]} paper variant vs reference variant"
    return "WGAN loss: DAT vs 0-GP"


def _reading_title(row, reading) -> str:
    return f"{ROW_TITLES[row]} (D's {reading})"


def _cell(runs, arm, row, reg, rank=None, n_row=None) -> str:
    """A column's FID over its own seeds; its seed count when it differs from the row's (``n_row``); its rank."""
    vals = list(_seeds(runs, arm, row, reg).values())
    if not vals:
        return "-"
    s = verdicts.mean_sd(vals)
    if len(vals) != n_row:
        s += f" [{len(vals)} seed{'s' if len(vals) != 1 else ''}]"
    if rank is not None:
        s += f" (#{rank:g})"
    if arm_failed(runs, arm, row, reg):
        s += " †"
    return s


def shared_seeds(runs, arm, row, cols) -> tuple:
    """The seeds every present column of the row holds: the seeds its ranks are over (:func:`row_means`)."""
    per = [set(v) for v in (_seeds(runs, arm, row, c) for c in cols) if v]
    return tuple(sorted(set.intersection(*per))) if per else ()


def nine_ranks(runs, row) -> dict:
    """``{column: rank}`` among the paper's nine columns present in the main arm's row (the claim's ranks; the
    table's ranks also count the two reference columns)."""
    means = row_means(runs, "main", row, TABLE3_REGS)
    return dict(zip(means, verdicts.ranks(list(means.values())))) if means else {}  # a row not run yet: no ranks


def _steps(runs, arm, row) -> str:
    steps = sorted({r["config"]["n_iter"] for r in runs if r.get("arm", "main") == arm and r["row"] == row})
    return "/".join(map(str, steps)) or "-"


def _fid_table(runs, arm, cols, lines):
    rows = [row for row in TABLE3_LOSSES if any(r.get("arm", "main") == arm and r["row"] == row for r in runs)]
    lines += ["| loss (reading, steps) | seeds (ranked over) | " + " | ".join(REG_TITLES[c] for c in cols)
              + " | Spearman vs paper |", "|---|---:|" + "---:|" * (len(cols) + 1)]
    for row in rows:
        reading = next(r.get("reading", "sigmoid") for r in runs if r.get("arm", "main") == arm and r["row"] == row)
        means = row_means(runs, arm, row, cols)
        present = [c for c in cols if c in means]
        rank = dict(zip(present, verdicts.ranks([means[c] for c in present])))
        paper_cols = [c for c in present if c in TABLE3_REGS]
        rho = (verdicts.spearman([means[c] for c in paper_cols], [PAPER_TABLE3[row][TABLE3_REGS.index(c)]
                                                                  for c in paper_cols])
               if len(paper_cols) > 2 else float("nan"))
        counts = [len(_seeds(runs, arm, row, c)) for c in present]
        n_row = max(set(counts), key=counts.count) if counts else 0  # the count most columns hold
        n_shared = len(shared_seeds(runs, arm, row, cols))
        cells = [_cell(runs, arm, row, c, rank.get(c), n_row) for c in cols]
        lines.append(f"| {_reading_title(row, reading)}, {_steps(runs, arm, row)} | {n_row} ({n_shared}) | "
                     + " | ".join(cells) + f" | {verdicts.num(rho)} |")
        lines.append("| paper | | " + " | ".join(
            f"{PAPER_TABLE3[row][TABLE3_REGS.index(c)]:.2f}" if c in TABLE3_REGS else "-" for c in cols) + " | |")


def _share_table(runs, arm, cols, lines):
    lines += ["| loss | " + " | ".join(REG_TITLES[c] for c in cols) + " |", "|---|" + "---:|" * len(cols)]
    for row in TABLE3_LOSSES:
        if not any(r.get("arm", "main") == arm and r["row"] == row for r in runs):
            continue
        cells = []
        for c in cols:
            v = [x for x in shares(runs, arm, row, c) if np.isfinite(x)]
            cells.append("-" if not v else verdicts.mean_sd(v, 3) + (" (inactive)" if np.mean(v) < stats.INACTIVE_SHARE
                                                                     else ""))
        lines.append(f"| {ROW_TITLES[row]} | " + " | ".join(cells) + " |")


def _improvement_table(runs, arm, cols, lines):
    lines += ["| loss | " + " | ".join(REG_TITLES[c] for c in cols) + " |", "|---|" + "---:|" * len(cols)]
    for row in TABLE3_LOSSES:
        cells = []
        for c in cols:
            v = [convergence.end_improvement(convergence.curve_of(r)) for r in runs
                 if r.get("arm", "main") == arm and r["row"] == row and r["reg"] == c and r.get("curve")]
            v = [x for x in v if np.isfinite(x)]
            cells.append("-" if not v else f"{100 * np.mean(v):+.1f}%")
        if any(x != "-" for x in cells):
            lines.append(f"| {ROW_TITLES[row]} | " + " | ".join(cells) + " |")


def _scope(runs, opts_like, arm="main") -> str:
    chosen = [r for r in runs if r.get("arm", "main") == arm]
    steps = ", ".join(f"{ROW_TITLES[row]} {_steps(runs, arm, row)}" for row in TABLE3_LOSSES
                      if any(r["row"] == row for r in chosen))
    samples = "/".join(str(s) for s in sorted({r.get("eval_samples") for r in chosen if r.get("eval_samples")}))
    seeds = len({r["seed"] for r in chosen})
    return (f"digits at {opts_like['resolution']}x{opts_like['resolution']}, the digits classifier, FID against the "
            f"train split, steps {steps}, {samples or '?'} samples per evaluation, {seeds} seeds")


def _not_run_yet(runs) -> list:
    """A line naming the columns (and the labelled arm) that the stored section has not run yet, so that a partial
    section (the central columns run first) does not read as the whole table."""
    main_cols = {r["reg"] for r in runs if r.get("arm", "main") == "main"}
    missing = [REG_TITLES[c] for c in MAIN_COLUMNS if c not in main_cols]
    other = not any(r.get("arm") == "other" for r in runs)
    if not missing and not other:
        return []
    parts = ([f"the columns {', '.join(missing)}"] if missing else []) + (["the labelled arm"] if other else [])
    return [f"**Not run yet:** {' and '.join(parts)} (the central columns run first; "
            "`python bin/results.py --out_dir=docs --sections=table3` runs the rest, restoring the runs above). "
            "Their cells and the claims that need them are not on this page yet.", ""]


def section_markdown(opts, sec):
    data = sec["data"]
    runs = data["runs"]
    res = {"resolution": data.get("resolution", opts.resolution)}
    chosen, others = data.get("readings", {}), data.get("other_readings", {})
    lines = [
        "**The paper's D** (`configs/table3_*.flags`): the AR/RFM code base's DCGAN D (`--net=dcgan_rfm`: BatchNorm "
        "after every convolution, bias-free, LeakyReLU 0.2, no spectral normalization); AR and RFM use that code's "
        "batch (Frobenius) norm. **Readings** (fixed by the pilot's rule, section 1): "
        + ", ".join(f"{ROW_TITLES[row]} on D's {r}" for row, r in chosen.items())
        + ". On the logit, WGAN's critic is unbounded (no clipping, no penalty: the code base's line with the "
        "sigmoid removed and nothing else changed); on the sigmoid it is bounded in (0, 1) and estimates a "
        "total-variation-like gap. The other reading of "
        + ", ".join(f"{ROW_TITLES[row]} (D's {r})" for row, r in others.items())
        + " runs as a labelled arm, not used by the verdicts.", "",
        f"FID (lower is better) with the digits classifier against the digits train split, "
        f"{'/'.join(str(s) for s in sorted({r.get('eval_samples') for r in runs if r.get('eval_samples')}))} generated "
        "samples per evaluation. Each cell: mean ± sample std over its own seeds (the row's count, in the column "
        "*seeds*; a cell holding another count shows it in square brackets) and, in round brackets, its rank "
        "within the row (1 = best) by the mean over the seeds every column of the row holds (their count in "
        "brackets in the column *seeds*; when it equals the row's count, ranks and cells use the same seeds); "
        "† marks a column that did not learn (final IS under "
        f"{stats.FAILED_IS:g}, FID over {stats.FAILED_FID:g}, or diverged, in at least half "
        "of its seeds). Below each row, the paper's CIFAR-10 FID.", "",
    ]
    lines += _not_run_yet(runs)
    if any(r.get("arm") == "main" for r in runs):
        lines += ["Main arm (the verdicts' reading):", ""]
        _fid_table(runs, "main", MAIN_COLUMNS, lines)
        lines += ["", "What each column did (mean ± sample std over seeds, last quarter of training): the perturbation "
                  "over the inputs' norm (DAT, DATT, ASGAN) or the penalty over D's loss without it (GP, LP, 0-GP, AR, "
                  f"RFM); *inactive* under {stats.INACTIVE_SHARE:g}:", ""]
        _share_table(runs, "main", [c for c in MAIN_COLUMNS if c != "none"], lines)
        lines += ["", "KID (same runs and split; the digits classifier's features are not Inception's):", "",
                  "| loss | " + " | ".join(REG_TITLES[c] for c in MAIN_COLUMNS) + " |",
                  "|---|" + "---:|" * len(MAIN_COLUMNS)]
        for row in TABLE3_LOSSES:
            lines.append(f"| {ROW_TITLES[row]} | " + " | ".join(
                verdicts.mean_sd(list(_seeds(runs, "main", row, c, "kid_train").values()), 2) for c in MAIN_COLUMNS)
                + " |")
        lines += ["", "End-of-training improvement of each column's own runs ((FID at 80% of the budget - FID at the "
                  "budget) / FID at 80%, each a mean of three evaluations; mean over seeds; under 5% = learning has "
                  "slowed):", ""]
        _improvement_table(runs, "main", MAIN_COLUMNS, lines)
    if any(r.get("arm") == "other" for r in runs):
        lines += ["", "Labelled arm, the other reading (not used by the verdicts):", ""]
        _fid_table(runs, "other", OTHER_COLUMNS, lines)
        lines += [""]
        _share_table(runs, "other", [c for c in OTHER_COLUMNS if c != "none"], lines)
    claim_cells = verdicts.decide(comparisons(runs))
    variant_cells = verdicts.decide(variant_comparisons(runs))
    lines += ["", "Cells of the paper's claims (main arm, FID, paired by seed; one Holm family):", ""]
    lines += verdicts.cells_table([(_label(k), c) for k, c in claim_cells.items()])
    if variant_cells:
        lines += ["", "Not a claim of the paper: the paper's equations against the authors' released code (a Holm "
                  "family of its own):", ""]
        lines += verdicts.cells_table([(_label(k), c) for k, c in variant_cells.items()])
    scope = _scope(runs, res)
    named = {k: verdicts.named(c, _label(k)) for k, c in {**claim_cells, **variant_cells}.items()}
    pick = lambda kind: tuple(c for k, c in named.items() if k[0] == kind)  # noqa: E731
    nine = {r: nine_ranks(runs, r) for r in TABLE3_LOSSES}
    dat_ranks = ", ".join(f"{ROW_TITLES[r]} #{nine[r]['dat']:g}" for r in TABLE3_LOSSES if "dat" in nine[r])
    setup = "FID on digits, the AR/RFM code base's D, each row at its pilot budget and reading"
    claims = []
    if pick("dat_vs_none"):
        claims.append(verdicts.Claim("DAT beats no regularization (per loss, FID)", f"{setup}, 3 losses",
                                     pick("dat_vs_none"), scope))
    if pick("best"):
        claims.append(verdicts.Claim(f"DAT or DATT has the best FID of the nine (DAT's ranks: {dat_ranks})",
                                     f"{setup}, per loss the better of DAT/DATT vs the best other by mean",
                                     pick("best"), scope))
    if ("wgan_dat_vs_zero_gp",) in named:
        claims.append(verdicts.Claim("WGAN loss, DAT beats 0-GP (the paper's Fig. 6 point: 0-GP is poor with WGAN)",
                                     f"{setup}, WGAN loss", (named[("wgan_dat_vs_zero_gp",)],), scope))
    if pick("variant"):
        claims.append(verdicts.Claim(
            "(Not a claim of the paper: how the two readings of DAT differ) the paper's equations give a lower FID "
            "than the authors' released code (DAT and DATT, paper vs reference variant)",
            f"{setup}, 3 losses x DAT/DATT", pick("variant"), scope))
    if any(r.get("arm") == "main" for r in runs):
        if opts.draw:
            _plot(opts, runs)
        lines += ["", "![Table 3 in miniature](results/table3.png)", "",
                  "![Table 3: FID curves](results/table3_curves.png)"]
    overall = "; ".join(f"{c.verdict.word} ({c.text})" for c in claims)  # each verdict with its own claim's words
    return lines, claims, overall or "no main-arm runs"


def _plot(opts, runs):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.4), squeeze=False)
    for ax, row in zip(axes[0], TABLE3_LOSSES):
        vals = [np.asarray(list(_seeds(runs, "main", row, c).values()), np.float64) for c in MAIN_COLUMNS]
        means = [np.mean(v) if v.size and np.all(np.isfinite(v)) else np.nan for v in vals]
        sds = [np.std(v, ddof=1) if v.size > 1 and np.all(np.isfinite(v)) else 0 for v in vals]
        if not np.any(np.isfinite(means)):  # no bar to draw on a log scale
            why = "every column diverged" if any(v.size for v in vals) else "not run yet"
            ax.set_title(f"{ROW_TITLES[row]} loss: {why}", fontsize=9)
            continue
        colors = ["tab:red" if c.startswith("dat") else "0.6" for c in MAIN_COLUMNS]
        ax.bar(range(len(MAIN_COLUMNS)), means, yerr=sds, color=colors, capsize=2)
        ax.set_xticks(range(len(MAIN_COLUMNS)))
        ax.set_xticklabels([REG_TITLES[c] for c in MAIN_COLUMNS], rotation=45, fontsize=8)
        ax.set_yscale("log")
        ax.set_title(f"{ROW_TITLES[row]} loss: FID (log scale)", fontsize=9)
    fig.tight_layout()
    os.makedirs(opts.artefacts, exist_ok=True)
    fig.savefig(os.path.join(opts.artefacts, "table3.png"), dpi=100)
    plt.close(fig)
    from dat_study.common import band, finish_axes

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.4), squeeze=False)
    for ax, row in zip(axes[0], TABLE3_LOSSES):
        drawn = False
        for reg, color in (("none", "0.4"), ("gp", "tab:green"), ("zero_gp", "tab:blue"), ("dat", "tab:red")):
            curves = [r["curve"] for r in runs if r.get("arm") == "main" and r["row"] == row and r["reg"] == reg
                      and r.get("curve")]
            if not curves:
                continue
            drawn = True
            n = min(len(c) for c in curves)
            vals = np.array([[c[i].get("fid_train", np.nan) for i in range(n)] for c in curves], np.float64)
            band(ax, [c["step"] for c in curves[0][:n]], vals, color, REG_TITLES[reg])
        if not drawn:
            ax.set_title(f"{ROW_TITLES[row]} loss: not run yet", fontsize=9)
            continue
        ax.set_yscale("log")
        ax.set_ylabel("FID (digits)", fontsize=8)
        finish_axes(ax, f"{ROW_TITLES[row]} loss")
    fig.tight_layout()
    os.makedirs(opts.artefacts, exist_ok=True)
    fig.savefig(os.path.join(opts.artefacts, "table3_curves.png"), dpi=100)
    plt.close(fig)
