"""Section 4.3: D's input-gradient norms at reals and fakes over training, for none, 0-GP and DAT.

No training of its own: it reads the gradient-norm logs of the :mod:`.table3` runs.
"""

from __future__ import annotations

import os

import numpy as np

from dat_tf.experiments import stats, verdicts
from dat_tf.experiments.common import band, finish_axes, fmt, load_section, per_seed, pyplot, tail_mean
from dat_tf.experiments.paper import REG_TITLES, ROW_TITLES, TABLE3_LOSSES

LIPSCHITZ_REGS = ("none", "zero_gp", "dat")
LOG_KEYS = ("step", "grad_norm_real", "grad_norm_fake", "d_real", "d_fake", "perturbation_norm")


def run_section(opts) -> dict:
    """The table3 section's logs of :data:`LIPSCHITZ_REGS` (run the table3 section first)."""
    t3 = load_section(opts, "table3")
    if t3 is None:
        raise RuntimeError("the lipschitz section reads the table3 runs: run the table3 section first.")
    runs = [
        {"row": r["row"], "reg": r["reg"], "seed": r["seed"], "logs": [{k: l.get(k) for k in LOG_KEYS} for l in r["logs"]]}
        for r in t3["data"]["runs"] if r["reg"] in LIPSCHITZ_REGS
    ]
    return {"runs": runs}


# ------------------------------------------------------------------ the page


def comparisons(runs) -> dict:
    """The section's cells: DAT's tail-mean gradient norm against None's and 0-GP's, per loss and at reals/fakes.

    ``(baseline, row, at)``; lower is better, so "better" = DAT's norm is smaller.  Holm over all 12.
    """
    out = {}
    for row in TABLE3_LOSSES:
        for at in ("real", "fake"):
            vals = {reg: per_seed(runs, lambda r: tail_mean(r["logs"], f"grad_norm_{at}"), row=row, reg=reg)
                    for reg in LIPSCHITZ_REGS}
            if not vals["none"]:
                continue
            for base in ("none", "zero_gp"):
                out[(base, row, at)] = stats.paired(vals["dat"], vals[base], True)
    return out


def _log_steps(runs):
    steps = sorted({row["step"] for r in runs for row in r["logs"]})
    every = sorted({b - a for a, b in zip(steps, steps[1:])})
    return (steps[-1] if steps else None), (every[0] if len(every) == 1 else None)


def section_markdown(opts, sec):
    runs = sec["data"]["runs"]
    n_seeds = len({r["seed"] for r in runs})
    last, every = _log_steps(runs)
    lines = ["Mean input-gradient norm ‖∇ₓD(x)‖ over the last quarter of training (the table3 runs: "
             f"{last} generator steps, logged every {every} steps as the mean over those steps), {n_seeds} seeds, "
             "mean ± sample std over seeds.", "",
             "| loss | at | " + " | ".join(REG_TITLES[r] for r in LIPSCHITZ_REGS) + " |",
             "|---|---|" + "---:|" * len(LIPSCHITZ_REGS)]
    for row in TABLE3_LOSSES:
        for at in ("real", "fake"):
            vals = {reg: [tail_mean(r["logs"], f"grad_norm_{at}") for r in runs if r["row"] == row and r["reg"] == reg]
                    for reg in LIPSCHITZ_REGS}
            if vals["none"]:
                lines.append(f"| {ROW_TITLES[row]} | {at} | " + " | ".join(fmt(vals[r], 3) for r in LIPSCHITZ_REGS)
                             + " |")
    cells = verdicts.decide(comparisons(runs))
    rows, between = [], []
    for (base, row, at), cell in cells.items():
        rows.append((f"{ROW_TITLES[row]}, at {at}s: DAT vs {REG_TITLES[base]}", cell))
        if base == "none":
            between.append(verdicts.both(
                (row, at), cell, verdicts.flipped(cells[("zero_gp", row, at)]),
                "DAT below None and above 0-GP: both cells before"))
    lines += ["", "Cells (\"better\" = DAT's gradient norm is smaller; paired by seed):", ""]
    lines += verdicts.cells_table(rows, digits=3)
    _plot(opts, runs)
    lines += ["", "![Lipschitz](results/lipschitz.png)"]
    setup = f"tail-mean ‖∇ₓD‖ of the table3 runs, {last} steps, {n_seeds} seeds, 3 losses x reals/fakes"
    claims = [
        verdicts.Claim("DAT lowers D's input-gradient norm vs no regularization", setup,
                       tuple(c for k, c in cells.items() if k[0] == "none"), digits=3),
        verdicts.Claim("DAT's norm lies strictly between 0-GP's and None's (smaller than None's, larger than 0-GP's: "
                       "the \"weaker than 0-GP\" reading of section 4.3; it does not test adaptivity)", setup,
                       tuple(between), digits=3),
    ]
    return lines, claims, claims[0].verdict.word


def _plot(opts, runs):
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), squeeze=False)
    colors = {"none": "0.4", "zero_gp": "tab:blue", "dat": "tab:red"}
    for ci, row in enumerate(TABLE3_LOSSES):
        for ri, at in enumerate(("real", "fake")):
            ax = axes[ri, ci]
            for reg in LIPSCHITZ_REGS:
                logs = [r["logs"] for r in runs if r["row"] == row and r["reg"] == reg]
                if not logs:
                    continue
                n = min(len(x) for x in logs)
                steps = [e["step"] for e in logs[0][:n]]
                vals = np.array([[np.nan if e.get(f"grad_norm_{at}") is None else e[f"grad_norm_{at}"]
                                  for e in x[:n]] for x in logs], np.float64)
                band(ax, steps, vals, colors[reg], REG_TITLES[reg])
            ax.set_yscale("log")
            finish_axes(ax, f"{ROW_TITLES[row]} loss: ‖∇D‖ at {at}s")
    fig.tight_layout()
    fig.savefig(os.path.join(opts.artefacts, "lipschitz.png"), dpi=100)
    plt.close(fig)
