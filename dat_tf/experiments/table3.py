"""Table 3 in miniature: 3 losses x the regularizers on digits, on the paper's D and on the first study's SN D.

Two arms, each cell the ``configs/<arm>_<row>_<reg>.flags`` experiment shrunk to digits
(:func:`dat_tf.experiments.common.digits_overrides`):

* ``main`` (``configs/table3_*``): the D of the AR/RFM code base the paper follows for Table 3
  (``--net=dcgan_rfm``: BatchNorm after every conv, no spectral norm; ``--d_sigmoid`` for the
  LSGAN and WGAN rows), AR/RFM with the authors' batch (Frobenius) norm.  Columns: the paper's
  nine (DAT and DATT in the ``paper`` variant) and DAT/DATT in the ``reference`` variant.
* ``sn`` (``configs/table3sn_*``): the first study's spectrally normalized D, a labelled second
  arm (None, GP with lambda 10 and 1, LP, DAT), shown and noted, not part of the verdicts.

Seeds (fixed before the runs, :class:`dat_tf.experiments.common.StudyOptions`):
``table3_key_seeds`` (5) for the main arm's None, DAT and 0-GP, the arms of the verdicts;
``table3_seeds`` (3) for its other columns; ``table3_sn_seeds`` (3) for the SN arm.  The None,
DAT and 0-GP runs of the main arm also measure D's gradient norms by correctness at the end
(:func:`dat_tf.experiments.runner.measure_correctness`), which :mod:`.lipschitz` reads.

Rules of the page (fixed before the runs):

* a comparison of two columns uses the seeds both hold; "best of the nine" compares, per loss,
  the better of DAT and DATT against the best of the other seven, "better" by the mean over the
  seeds every column of the row holds;
* notes are printed only when the numbers say so: "LP never active" when LP's FID equals None's
  in every shared seed; "GP collapses" when GP's mean FID exceeds :data:`COLLAPSE_FACTOR` x
  None's; "AR/RFM's penalty negligible" when its tail-mean penalty is below
  :data:`NEGLIGIBLE_PENALTY` of the tail-mean D loss without it.

Wall time: :func:`estimated_minutes` (the first study's 81 runs took 2443 s on 2 cores).
"""

from __future__ import annotations

import math
import os

import numpy as np

from dat_tf.experiments import stats, verdicts
from dat_tf.experiments.common import digits_overrides, fmt, per_seed, pyplot, slim, steps_of, tail_mean
from dat_tf.experiments.paper import PAPER_TABLE3, REG_TITLES, ROW_TITLES, TABLE3_LOSSES, TABLE3_REGS
from dat_tf.experiments.parallel import map_processes
from dat_tf.experiments.runner import RunSpec, metric, run_one

ARMS = {"main": "table3", "sn": "table3sn"}  # arm -> flagfile prefix
MAIN_COLUMNS = TABLE3_REGS + ("dat_reference", "datt_reference")
SN_COLUMNS = ("none", "gp", "gp_w1", "lp", "dat")
KEY_COLUMNS = ("none", "dat", "zero_gp")  # main arm, more seeds, gradient norms by correctness measured
OURS = ("dat", "datt")  # the paper variant: the columns of the paper's claim
COLLAPSE_FACTOR = 3.0
NEGLIGIBLE_PENALTY = 0.01
# The first study (SN D, 27 columns x 3 seeds): its stored wall time on 2 cores, and the measured
# slow-down of the dcgan_rfm D against the SN D at the miniature's size (78.2 s vs 72.8 s for GAN/None
# and 96.2 vs 90.6 for WGAN/DAT, both pairs side by side on the same loaded machine).
FIRST_STUDY_SECONDS, FIRST_STUDY_RUNS = 2443.0, 81
RFM_SLOWDOWN = 1.07


def columns(arm: str) -> tuple:
    return MAIN_COLUMNS if arm == "main" else SN_COLUMNS


def seeds_of(opts, arm: str, reg: str) -> tuple:
    """The seeds of one column (see the module doc)."""
    if arm == "sn":
        return tuple(opts.table3_sn_seeds)
    return tuple(opts.table3_key_seeds if reg in KEY_COLUMNS else opts.table3_seeds)


def run_specs(opts) -> dict:
    """``{(arm, row, reg, seed): RunSpec}`` of every cell and seed."""
    specs = {}
    for arm, prefix in ARMS.items():
        for row in TABLE3_LOSSES:
            for reg in columns(arm):
                for seed in seeds_of(opts, arm, reg):
                    # new folder names: the first study's runs/results/table3/<row>_<reg>_seed<s> used the same
                    # flagfile paths with another D and must not be taken for these
                    run_dir = os.path.join(opts.runs_dir, "table3", f"{arm}_{row}_{reg}_seed{seed}")
                    measure = opts.correctness_batches if (arm == "main" and reg in KEY_COLUMNS) else 0
                    specs[(arm, row, reg, seed)] = RunSpec.make(
                        os.path.join(opts.configs_dir, f"{prefix}_{row}_{reg}.flags"),
                        digits_overrides(opts, run_dir, seed, opts.table3_iters), eval_samples=opts.eval_samples,
                        correctness_batches=measure,
                    )
    return specs


def estimated_minutes(opts, seconds_per_run=None, workers=2) -> float:
    """The section's expected wall time: its runs x the first study's seconds per run / workers.

    ``seconds_per_run`` defaults to the first study's ``FIRST_STUDY_SECONDS * 2 / FIRST_STUDY_RUNS``
    (2 workers: 60.3 s of one worker per run), times :data:`RFM_SLOWDOWN` for the main arm.
    """
    base = FIRST_STUDY_SECONDS * 2 / FIRST_STUDY_RUNS if seconds_per_run is None else seconds_per_run
    total = sum(base * (RFM_SLOWDOWN if arm == "main" else 1.0) for (arm, *_rest) in run_specs(opts))
    return total / workers / 60.0


def _net_of(spec: RunSpec) -> dict:
    from dat_tf.train.config import TrainConfig

    cfg = TrainConfig.from_flagfile(spec.flagfile, **dict(spec.overrides))
    return {"net": cfg.net, "d_sigmoid": bool(cfg.d_sigmoid), "d_spectral_norm": bool(cfg.d_spectral_norm)}


def run_section(opts) -> dict:
    specs = run_specs(opts)
    results = map_processes(run_one, list(specs.values()), opts.workers)
    runs = []
    for (arm, row, reg, seed), spec, r in zip(specs, specs.values(), results):
        runs.append(dict(slim(r), arm=arm, row=row, reg=reg, seed=seed, correctness=r.get("correctness"),
                         eval_samples=spec.eval_samples, **_net_of(spec)))
    return {"runs": runs}


# ------------------------------------------------------------------ the page


def arm_of(run) -> str:
    """A run's arm; runs stored before the arms existed had the SN D (the first study)."""
    return run.get("arm", "sn")


def _fid(run, name="fid_train"):
    return metric(run, name) if "final" in run else np.nan


def _seeds(runs, arm, row, reg, name="fid_train") -> dict:
    return per_seed([r for r in runs if arm_of(r) == arm], lambda r: _fid(r, name), row=row, reg=reg)


def _values(runs, arm, row, reg, name="fid_train"):
    return list(_seeds(runs, arm, row, reg, name).values())


def shared(a: dict, b: dict) -> tuple:
    """``a`` and ``b`` restricted to the seeds both hold (the pairing rule for columns with different seeds).

    >>> shared({0: 1.0, 1: 2.0, 2: 3.0}, {1: 5.0, 2: 6.0, 3: 7.0})
    ({1: 2.0, 2: 3.0}, {1: 5.0, 2: 6.0})
    """
    common = sorted(set(a) & set(b))
    return {s: a[s] for s in common}, {s: b[s] for s in common}


def row_means(runs, arm, row, cols) -> dict:
    """``{column: mean FID}`` over the seeds every present column of the row holds (inf if one diverged)."""
    per = {c: _seeds(runs, arm, row, c) for c in cols}
    per = {c: v for c, v in per.items() if v}
    if not per:
        return {}
    common = set.intersection(*(set(v) for v in per.values()))
    out = {}
    for c, v in per.items():
        m = float(np.mean([v[s] for s in sorted(common)])) if common else float("nan")
        out[c] = m if np.isfinite(m) else math.inf
    return out


def _paired(runs, row, method, baseline, arm="main"):
    a, b = shared(_seeds(runs, arm, row, method), _seeds(runs, arm, row, baseline))
    return stats.paired(a, b, True) if a else None


def comparisons(runs) -> dict:
    """The section's cells (``{label: stats.Paired}``), FID of the main arm, paired by seed; Holm over all.

    * ``("dat_vs_none", row)``: DAT against no regularization, per loss.
    * ``("best", row, ours, other)``: the better of DAT and DATT (paper variant) against the best of the
      other seven, both by :func:`row_means`.
    * ``("wgan_dat_vs_zero_gp",)``: the WGAN loss, DAT against 0-GP.
    * ``("variant", row, reg)``: the paper variant of ``reg`` (dat, datt) against its reference variant.

    A cell whose columns did not run is absent (e.g. a section stored before the main arm existed).
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
    for row in TABLE3_LOSSES:
        for reg in OURS:
            c = _paired(runs, row, reg, f"{reg}_reference")
            if c:
                out[("variant", row, reg)] = c
    return out


def _arm_text(runs):
    main = [r for r in runs if arm_of(r) == "main"]
    sig = sorted({ROW_TITLES[r["row"]] for r in main if r.get("d_sigmoid")}, key=list(ROW_TITLES.values()).index)
    text = ("**Main arm** (`configs/table3_*.flags`): the AR/RFM code base's D (`--net=dcgan_rfm`: BatchNorm after "
            "every convolution, bias-free, LeakyReLU 0.2, no spectral normalization); AR and RFM use that code's "
            "batch (Frobenius) norm. ")
    if sig:
        text += (f"A final sigmoid (`--d_sigmoid`) for the {' and '.join(sig)} rows, as the code base's lines for "
                 "those losses; the GAN row has none (BCE on the sigmoid output is the `ns` loss on the logit). ")
    if "WGAN" in sig:
        text += ("WGAN on a sigmoid output is a bounded critic in (0, 1): without a penalty it estimates a "
                 "total-variation-like gap rather than a Wasserstein distance, and it cannot diverge. ")
    text += ("**Second arm** (`configs/table3sn_*.flags`): the first study's spectrally normalized D (no BatchNorm "
             "in D), shown for comparison, not used by the verdicts.")
    return text


def _seed_text(runs):
    parts = []
    for arm in ARMS:
        counts = {}
        for reg in columns(arm):
            n = len({r["seed"] for r in runs if arm_of(r) == arm and r["reg"] == reg})
            if n:
                counts.setdefault(n, []).append(REG_TITLES[reg])
        if counts:
            parts.append(f"{arm} arm: " + "; ".join(f"{n} seeds for {', '.join(c)}" for n, c in
                                                     sorted(counts.items(), reverse=True)))
    return ". ".join(parts)


def _table(runs, arm, lines):
    cols = [c for c in columns(arm) if any(arm_of(r) == arm and r["reg"] == c for r in runs)]
    if not cols:
        return {}
    lines += ["| loss | " + " | ".join(REG_TITLES[c] for c in cols) + " | Spearman vs paper |",
              "|---|" + "---:|" * (len(cols) + 1)]
    ranks = {}
    for row in TABLE3_LOSSES:
        if not any(arm_of(r) == arm and r["row"] == row for r in runs):
            continue
        means = row_means(runs, arm, row, cols)
        rank = dict(zip(cols, verdicts.ranks([means.get(c, math.inf) for c in cols])))
        ranks[row] = rank
        paper_cols = [c for c in cols if c in TABLE3_REGS]
        rho = (verdicts.spearman([means[c] for c in paper_cols], [PAPER_TABLE3[row][TABLE3_REGS.index(c)]
                                                                  for c in paper_cols])
               if len(paper_cols) > 2 else float("nan"))
        cells = [f"{fmt(_values(runs, arm, row, c))} (#{rank[c]:g})" for c in cols]
        lines.append(f"| {ROW_TITLES[row]} | " + " | ".join(cells) + f" | {verdicts.num(rho)} |")
        lines.append("| paper | " + " | ".join(
            f"{PAPER_TABLE3[row][TABLE3_REGS.index(c)]:.2f}" if c in TABLE3_REGS else "-" for c in cols) + " | |")
    return ranks


def section_markdown(opts, sec):
    runs = sec["data"]["runs"]
    samples = sorted({r["eval_samples"] for r in runs if "eval_samples" in r})
    lines = [
        _arm_text(runs), "",
        f"FID (lower is better) with the digits classifier against the digits train split, {steps_of(runs)} "
        f"generator steps, {'/'.join(map(str, samples)) or 'not stored'} generated samples per evaluation; "
        f"{_seed_text(runs)}. Each cell: mean ± sample std over its seeds and, in brackets, its rank within the row "
        "by the mean over the seeds every column of the row holds (1 = best); below each row, the paper's "
        "CIFAR-10 FID.", "",
    ]
    ranks = {}
    if any(arm_of(r) == "main" for r in runs):
        lines += ["Main arm (the paper's D):", ""]
        ranks = _table(runs, "main", lines)
        lines += ["", "KID (same runs and split; the digits classifier's features are not Inception's):", "",
                  "| loss | " + " | ".join(REG_TITLES[c] for c in MAIN_COLUMNS) + " |",
                  "|---|" + "---:|" * len(MAIN_COLUMNS)]
        for row in TABLE3_LOSSES:
            lines.append(f"| {ROW_TITLES[row]} | " + " | ".join(
                fmt(_values(runs, "main", row, c, "kid_train"), 2) for c in MAIN_COLUMNS) + " |")
        lines.append("")
    if any(arm_of(r) == "sn" for r in runs):
        lines += ["Second arm (the first study's SN D):", ""]
        _table(runs, "sn", lines)
        lines.append("")
    lines += notes(runs)
    cells = verdicts.decide(comparisons(runs))
    rows = []
    for key, cell in cells.items():
        if key[0] == "dat_vs_none":
            rows.append((f"{ROW_TITLES[key[1]]} loss: DAT vs None", cell))
        elif key[0] == "best":
            rows.append((f"{ROW_TITLES[key[1]]} loss: {REG_TITLES[key[2]]} (best of DAT/DATT) vs "
                         f"{REG_TITLES[key[3]]} (best of the other seven)", cell))
        elif key[0] == "variant":
            rows.append((f"{ROW_TITLES[key[1]]} loss: {REG_TITLES[key[2]]} paper variant vs reference variant", cell))
        else:
            rows.append(("WGAN loss: DAT vs 0-GP", cell))
    lines += ["", "Cells (main arm, FID, paired by the seeds both columns hold):", ""] + verdicts.cells_table(rows)
    main = [r for r in runs if arm_of(r) == "main"]
    setup = f"FID on digits, the AR/RFM code base's D, {steps_of(main)} steps"
    n_key = len({r["seed"] for r in main if r["reg"] in KEY_COLUMNS})
    dat_ranks = ", ".join(f"{ROW_TITLES[r]} #{ranks[r]['dat']:g}" for r in ranks if "dat" in ranks[r])
    pick = lambda kind: tuple(c for k, c in cells.items() if k[0] == kind)  # noqa: E731
    claims = []
    if pick("dat_vs_none"):
        claims.append(verdicts.Claim("DAT beats no regularization (per loss, FID)",
                                     f"{setup}, {n_key} seeds, 3 losses", pick("dat_vs_none")))
    if pick("best"):
        claims.append(verdicts.Claim(
            f"DAT or DATT has the best FID of the nine (DAT's ranks: {dat_ranks})",
            f"{setup}, per loss the better of DAT/DATT vs the best other by mean, seeds both hold", pick("best")))
    if ("wgan_dat_vs_zero_gp",) in cells:
        claims.append(verdicts.Claim("WGAN loss, DAT beats 0-GP (the paper's Fig. 6 point: 0-GP is poor with WGAN)",
                                     f"{setup}, WGAN loss, {n_key} seeds", (cells[("wgan_dat_vs_zero_gp",)],)))
    if pick("variant"):
        claims.append(verdicts.Claim(
            "(Not a claim of the paper: how the two readings differ) the paper's equations give a lower FID than "
            "the authors' released code (DAT and DATT, paper vs reference variant)",
            f"{setup}, 3 losses x DAT/DATT, seeds both hold", pick("variant")))
    if main:
        _plot(opts, runs)
        lines += ["", "![Table 3 in miniature](results/table3.png)"]
    overall = "; ".join(f"{c.verdict.word} ({what})" for c, what in zip(claims, ("DAT vs None", "DAT best of nine")))
    return lines, claims, overall or "no main-arm runs"


def _penalty_share(run):
    """Tail-mean penalty over the tail-mean D loss without it (NaN if not logged)."""
    reg, d = tail_mean(run.get("logs", []), "reg"), tail_mean(run.get("logs", []), "d_loss")
    rest = d - reg
    return reg / abs(rest) if np.isfinite(reg) and np.isfinite(rest) and rest != 0 else float("nan")


def notes(runs) -> list:
    """Facts about the tables that a reader would otherwise take for a bug, each printed only when the numbers
    show it (the rules are in the module doc)."""
    out = []
    for arm in ARMS:
        if not any(arm_of(r) == arm for r in runs):
            continue
        label = "main arm" if arm == "main" else "SN arm"
        same = []
        for row in TABLE3_LOSSES:
            lp, none = shared(_seeds(runs, arm, row, "lp"), _seeds(runs, arm, row, "none"))
            if lp and all(lp[s] == none[s] for s in lp):
                same.append(ROW_TITLES[row])
        if same:
            why = (" The SN D keeps ‖∇ₓD‖ at or below about 1, where LP's one-sided penalty max(0, ‖∇ₓD‖ − 1)² is "
                   "zero." if arm == "sn" else "")
            out.append(f"- {label}, {' and '.join(same)}: LP's FIDs equal None's in every shared seed, to the "
                       f"last digit: the penalty was never active.{why}")
        for row in TABLE3_LOSSES:
            gp, none = (row_means(runs, arm, row, ("gp", "none")).get(c, math.nan) for c in ("gp", "none"))
            if np.isfinite(gp) and np.isfinite(none) and gp > COLLAPSE_FACTOR * none:
                out.append(f"- {label}, {ROW_TITLES[row]}: GP's mean FID is {gp / none:.1f}x None's (> "
                           f"{COLLAPSE_FACTOR:g}x); reported as measured, its weight not retuned.")
        if arm == "sn":
            for row in TABLE3_LOSSES:
                m = row_means(runs, arm, row, ("none", "gp", "gp_w1"))
                if all(c in m for c in ("none", "gp", "gp_w1")):
                    out.append(f"- SN arm, {ROW_TITLES[row]}: GP with λ=1 {m['gp_w1']:.2f}, λ=10 {m['gp']:.2f}, "
                               f"None {m['none']:.2f} (mean FID over shared seeds).")
        if arm == "main":
            for reg in ("ar", "rfm"):
                small = []
                for row in TABLE3_LOSSES:
                    shares = [_penalty_share(r) for r in runs
                              if arm_of(r) == arm and r["row"] == row and r["reg"] == reg]
                    shares = [s for s in shares if np.isfinite(s)]
                    if shares and max(shares) < NEGLIGIBLE_PENALTY:
                        small.append(f"{ROW_TITLES[row]} (at most {max(shares):.1e})")
                if small:
                    out.append(f"- main arm, {REG_TITLES[reg]}: its penalty over the last quarter of training is "
                               f"below {NEGLIGIBLE_PENALTY:.0%} of D's loss in every run for {', '.join(small)}: "
                               "in effect inactive.")
    return out


def _plot(opts, runs):
    plt = pyplot()
    arms = [a for a in ARMS if any(arm_of(r) == a for r in runs)]
    fig, axes = plt.subplots(len(arms), 3, figsize=(14, 3.4 * len(arms)), squeeze=False)
    for ai, arm in enumerate(arms):
        cols = columns(arm)
        for ax, row in zip(axes[ai], TABLE3_LOSSES):
            vals = [np.asarray(_values(runs, arm, row, c), np.float64) for c in cols]
            means = [np.mean(v) if v.size and np.all(np.isfinite(v)) else np.nan for v in vals]
            sds = [np.std(v, ddof=1) if v.size > 1 and np.all(np.isfinite(v)) else 0 for v in vals]
            colors = ["tab:red" if c.startswith("dat") else "0.6" for c in cols]
            ax.bar(range(len(cols)), means, yerr=sds, color=colors, capsize=2)
            ax.set_xticks(range(len(cols)))
            ax.set_xticklabels([REG_TITLES[c] for c in cols], rotation=45, fontsize=8)
            ax.set_title(f"{'paper D' if arm == 'main' else 'SN D'}, {ROW_TITLES[row]} loss: FID", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(opts.artefacts, "table3.png"), dpi=100)
    plt.close(fig)
