"""Section 4.3: D's input-gradient norms at reals and fakes over training, for none, 0-GP and DAT.

No training of its own: it reads the gradient-norm logs of the :mod:`.table3` runs.
"""

from __future__ import annotations

import os

import numpy as np

from dat_tf.experiments import verdicts
from dat_tf.experiments.common import band, finish_axes, fmt, load_section, pyplot, tail_mean
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


def section_markdown(opts, sec):
    runs = sec["data"]["runs"]
    lines = ["Mean input-gradient norm ‖∇ₓD(x)‖ over the last quarter of training (logged every "
             f"{opts.log_every} steps as the mean over those steps), mean ± std over seeds.", "",
             "| loss | at | " + " | ".join(REG_TITLES[r] for r in LIPSCHITZ_REGS) + " | DAT vs none | DAT vs 0-GP |",
             "|---|---|" + "---:|" * len(LIPSCHITZ_REGS) + "---|---|"]
    outs, between = [], []
    for row in TABLE3_LOSSES:
        for at in ("real", "fake"):
            key = f"grad_norm_{at}"
            vals = {reg: [tail_mean(r["logs"], key) for r in runs if r["row"] == row and r["reg"] == reg]
                    for reg in LIPSCHITZ_REGS}
            if not vals["none"]:
                continue
            o = verdicts.compare(vals["dat"], vals["none"])
            o_zero = verdicts.compare(vals["dat"], vals["zero_gp"])
            outs.append(o)
            between.append(o == "better" and o_zero == "worse")
            lines.append(f"| {ROW_TITLES[row]} | {at} | " + " | ".join(fmt(vals[r], 3) for r in LIPSCHITZ_REGS)
                         + f" | {o} | {o_zero} |")
    _plot(opts, runs)
    lines += ["", "(\"better\" = smaller gradient norm.)", "", "![Lipschitz](results/lipschitz.png)"]
    v = verdicts.verdict(outs)
    v_between = "reproduced" if all(between) else "not reproduced" if not any(between) else "mixed"
    return lines, [
        f"DAT lowers D's input-gradient norm vs no regularization: **{v}** ({verdicts.counts(outs)})",
        f"DAT's norm lies strictly between 0-GP's and None's (smaller than None's, larger than 0-GP's: the "
        f"\"adaptive, weaker than 0-GP\" reading of section 4.3): **{v_between}** ({sum(between)} of {len(between)} "
        "cells)",
    ], v


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
