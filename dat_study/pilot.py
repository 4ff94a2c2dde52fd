"""The pilot: how many steps each family of the study trains, chosen before any comparison run.

Seed 0 of each family's central arms trains to the family's cap with a curve of
:data:`dat_study.convergence.PILOT_POINTS` evaluations; the family's budget is then
:func:`dat_study.convergence.choose_budget` over the arms that learned
(:func:`dat_study.stats.run_failed`).  The sections read their budgets from the stored
pilot (:func:`budget`), so a budget is never chosen after a comparison run has been seen.

The pilot also fixes two readings the paper leaves open, by rules written here before it runs:

* **Table 3's rows** (:data:`TABLE3_READINGS`): each loss row is judged on the AR/RFM code base's
  reading (a sigmoid on D's output for LSGAN and WGAN) when its None learns in the pilot, else on
  D's logit without the sigmoid (nothing else changed: no clipping, no penalty); the other reading
  runs as a labelled arm.  The design notes ask for this test of any row whose baseline does not
  learn (docs/design.md, "Regularizers and Table 3's setup").
* **Our Figure 5 setting** (:data:`OURS_CANDIDATES`): the paper's WGAN (it 5) clips D's weights
  at 0.01, where DAT's step is about 1e-3 of an image, so its cells test nothing.  Our own
  setting is the first candidate whose DAT perturbation in the pilot is at least
  :data:`dat_study.stats.INACTIVE_SHARE` of the inputs' norm (a wider clip), labelled as
  ours on the page.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from dat_study import convergence, stats
from dat_study import common
from dat_study.common import digits_overrides, progress, slim, tail_mean
from dat_study.parallel import map_processes
from dat_study.runner import RunSpec, run_one


@dataclasses.dataclass(frozen=True)
class Family:
    """Runs that share one step budget.

    Args:
      title: for the page.
      section: the study section whose runs use the budget.
      kind: ``"digits"`` (FID curve with the digits classifier) or ``"mixture"`` (mode mass error).
      arms: ``{arm: (flagfile, overrides)}`` piloted on seed 0 (the family's central arms).
      cap: the largest budget (the pilot trains to it).
      grid: candidate budgets.
    """

    title: str
    section: str
    kind: str
    arms: dict
    cap: int
    grid: tuple


# Table 3's readings of a loss row: the AR/RFM code base's (a sigmoid on D for LSGAN and WGAN), and D's logit.
TABLE3_READINGS = {"gan": ("logit",), "lsgan": ("sigmoid", "logit"), "wgan": ("sigmoid", "logit")}
TABLE3_PILOT_REGS = ("none", "dat", "zero_gp", "gp")  # the paper's central columns
FIGURES45_PILOT_STEMS = ("dcgan_cifar10_lr0.0002_b0.5_it1", "dcgan_cifar10_lr0.0002_b0.5_it5",
                         "dcgan_cifar10_lr0.0002_b0_it1", "dcgan_cifar10_lr0.002_b0.5_it1",
                         "wgan_cifar10_lr5e-05_b0.5_it1", "wgan_cifar10_lr5e-05_b0.5_it5")
OURS_BASE = "wgan_cifar10_lr5e-05_b0.5_it5"
OURS_CANDIDATES = (0.1, 1.0)  # --d_weight_clip of our WGAN setting, in the order tried
DIGITS_CAP, DIGITS_GRID = 8000, tuple(range(1000, 8001, 1000))
MIXTURE_CAP, MIXTURE_GRID = 20000, tuple(range(2000, 20001, 2000))


def table3_family(row: str, reading: str) -> str:
    return f"table3_{row}_{reading}"


def ours_family(clip: float) -> str:
    return f"ours_wgan_clip{clip:g}"


def families(opts) -> dict:
    """``{name: Family}`` of the study, sized by ``opts`` (``opts.quick``: tiny caps)."""
    cap, grid = (opts.pilot_cap, tuple(opts.pilot_grid)) if opts.pilot_cap else (DIGITS_CAP, DIGITS_GRID)
    mcap, mgrid = ((opts.pilot_mixture_cap, tuple(opts.pilot_mixture_grid)) if opts.pilot_mixture_cap
                   else (MIXTURE_CAP, MIXTURE_GRID))
    cfg = opts.configs_dir
    out = {}
    for row, readings in TABLE3_READINGS.items():
        for reading in readings:
            arms = {reg: (os.path.join(cfg, f"table3_{row}_{reg}.flags"), {"d_sigmoid": reading == "sigmoid"})
                    for reg in TABLE3_PILOT_REGS}
            out[table3_family(row, reading)] = Family(f"Table 3, {row.upper() if row != 'gan' else 'GAN'} loss, "
                                                      f"D's {reading}", "table3", "digits", arms, cap, grid)
    for stem in FIGURES45_PILOT_STEMS:
        arms = {arm: (os.path.join(cfg, stem + ("_dat" if arm == "dat" else "") + ".flags"), {})
                for arm in ("none", "dat")}
        out[stem] = Family(stem, "figures45", "digits", arms, cap, grid)
    for clip in OURS_CANDIDATES:
        arms = {arm: (os.path.join(cfg, OURS_BASE + ("_dat" if arm == "dat" else "") + ".flags"),
                      {"d_weight_clip": clip}) for arm in ("none", "dat")}
        out[ours_family(clip)] = Family(f"ours: WGAN it 5, clip {clip:g}", "figures45", "digits", arms, cap, grid)
    from dat_study import figure1

    arms = {reg: ("", dict(figure1.TRAIN_FIELDS, regularizer=reg, resolution=opts.figure1_resolution))
            for reg in ("none", "dat")}
    out["figure1"] = Family("Figure 1's arms (BatchNorm-free DCGAN, 32x32)", "figure1", "digits", arms, cap, grid)
    for std in opts.figure3_stds:
        for mixture in ("balanced", "imbalanced"):
            arms = {m: (mixture, std) for m in ("none", "dat")}
            tag = "default" if std is None else f"{std:g}"
            out[f"figure3_std{tag}_{mixture}"] = Family(f"Figure 3, std {tag}, {mixture}", "figure3", "mixture",
                                                      arms, mcap, mgrid)
    return out


def _digits_spec(opts, name, fam, arm):
    flagfile, extra = fam.arms[arm]
    run_dir = os.path.join(opts.runs_dir, "pilot", f"{name}_{arm}_seed{opts.pilot_seed}")
    every = max(1, fam.cap // opts.pilot_points)
    over = dict(digits_overrides(opts, run_dir, opts.pilot_seed, fam.cap), **extra)
    if name == "figure1":  # its own fields: digits at the figure's resolution, no flagfile
        over = dict(extra, n_iter=fam.cap, seed=opts.pilot_seed, run_dir=run_dir, checkpoint_every=0,
                    keep_checkpoints=1, log_gradient_norms=True)
    over["log_every"] = every // 2 if every % 2 == 0 else every  # the curve's points fall on epoch ends
    return RunSpec.make(flagfile, over, curve_every=every, eval_samples=opts.eval_samples)


def _mixture_job(args):
    from dat_study import figure3

    name, fam, arm, opts = args
    mixture, std = fam.arms[arm]
    spacing = max(1, fam.cap // opts.pilot_points)
    fo = figure3.Figure3Options(out_dir="", configs_dir=opts.configs_dir, seeds=(opts.pilot_seed,),
                                checkpoints=tuple(range(spacing, fam.cap + 1, spacing)), methods=(arm,),
                                mixture_std=std, runs_dir=os.path.join(opts.runs_dir, "pilot", name))
    return figure3._job((mixture, arm, opts.pilot_seed, fo))


PILOT_SECTIONS = ("table3", "figures45", "figure1", "figure3")  # the sections whose budgets the pilot fixes


def run_section(opts) -> dict:
    """Pilots the families of ``opts.pilot_sections`` (all by default); keeps the stored pilot's other families."""
    fams = families(opts)
    if opts.pilot_sections:
        unknown = sorted(set(opts.pilot_sections) - set(PILOT_SECTIONS))
        if unknown:
            raise ValueError(f"pilot_sections {unknown} not allowed; expected some of {list(PILOT_SECTIONS)}.")
        fams = {n: f for n, f in fams.items() if f.section in opts.pilot_sections}
    previous = common.load_section(opts, "pilot")
    kept = {} if previous is None else {n: f for n, f in previous["data"]["families"].items() if n not in fams}
    digits = [(n, a) for n, f in fams.items() if f.kind == "digits" for a in f.arms]
    mixture = [(n, a) for n, f in fams.items() if f.kind == "mixture" for a in f.arms]
    specs = [_digits_spec(opts, n, fams[n], a) for n, a in digits]
    results = map_processes(run_one, specs, opts.workers, progress("pilot", opts))
    mix = map_processes(_mixture_job, [(n, fams[n], a, opts) for n, a in mixture], opts.workers, progress("pilot", opts))
    out = {}
    for (name, arm), spec, r in zip(digits, specs, results):
        fam = out.setdefault(name, {"arms": {}})
        fam["arms"][arm] = dict(slim(r), run_dir=spec.run_dir, eval_samples=spec.eval_samples,
                                perturbation_ratio=tail_mean(r["logs"], "perturbation_ratio"))
    for (name, arm), r in zip(mixture, mix):
        fam = out.setdefault(name, {"arms": {}})
        curve = [{"step": row["step"], "mode_mass_error": row["mode_mass_error"], "modes_covered": row["modes_covered"],
                  "kl": row["kl"]} for row in r["rows"]]
        fam["arms"][arm] = {"curve": curve, "seconds": r["seconds"], "std": r["std"],
                            "final": {"mode_mass_error": curve[-1]["mode_mass_error"]}}
    for name, fam in out.items():
        f = fams[name]
        fam.update(title=f.title, section=f.section, kind=f.kind, cap=f.cap, grid=list(f.grid), seed=opts.pilot_seed)
        fam.update(decide_budget(fam))
    out = dict(kept, **out)
    return {"families": out, "readings": table3_readings(out), "ours": ours_setting(out),
            "rule": {"slowed": convergence.SLOWED, "tail": convergence.TAIL, "points": convergence.PILOT_POINTS}}


def wall_time(sec):
    """The pilot runs in passes, each of which reuses the runs already finished, so the section's own time is
    the last pass's: the page shows the sum of its runs' own training times instead."""
    runs = [r.get("seconds") for f in sec["data"]["families"].values() for r in f["arms"].values()]
    timed = [s for s in runs if s is not None]
    if not timed:
        return sec["seconds"], ""
    return sum(timed), (f" (the sum of its {len(timed)} runs' own training times, one core each"
                        + (f"; {len(runs) - len(timed)} without a time" if len(timed) < len(runs) else "")
                        + "; the passes ran two runs at a time)")


def learned(fam: dict) -> dict:
    """``{arm: bool}``: which pilot arms of a stored family learned (digits: :func:`stats.run_failed`; mixtures:
    a final mode mass error, i.e. some sample near a mode; without one the metric is undefined, which the
    comparisons count as diverged)."""
    if fam["kind"] != "digits":
        return {a: _finite(r["final"].get("mode_mass_error")) for a, r in fam["arms"].items()}
    fids = {a: r["final"].get("fid_train") for a, r in fam["arms"].items()}
    return {a: not stats.run_failed(fids[a], r["final"].get("is")) for a, r in fam["arms"].items()}


def _finite(v) -> bool:
    return v is not None and bool(np.isfinite(v))


def decide_budget(fam: dict) -> dict:
    """The stored family's budget by the rule (over the arms that learned; all arms if none did)."""
    key = "fid_train" if fam["kind"] == "digits" else "mode_mass_error"
    ok = learned(fam)
    use = [a for a in fam["arms"] if ok[a]] or list(fam["arms"])
    choice = convergence.choose_budget({a: convergence.curve_of(fam["arms"][a], key) for a in use},
                                       fam["grid"], fam["cap"])
    return {"budget": choice["budget"], "capped": choice["capped"], "learned": ok, "rule_arms": use,
            "improvement": {a: {str(g): v for g, v in t.items()} for a, t in choice["improvement"].items()}}


def table3_readings(fams: dict) -> dict:
    """``{row: reading}``: the first reading of :data:`TABLE3_READINGS` whose None learned in the pilot."""
    out = {}
    for row, readings in TABLE3_READINGS.items():
        stored = [r for r in readings if table3_family(row, r) in fams]
        ok = [r for r in stored if learned(fams[table3_family(row, r)]).get("none")]
        out[row] = ok[0] if ok else (stored[-1] if stored else readings[-1])
    return out


def ours_setting(fams: dict) -> float | None:
    """Our WGAN setting's clip: the first candidate whose DAT pilot perturbation is >= the inactive share."""
    for clip in OURS_CANDIDATES:
        fam = fams.get(ours_family(clip))
        if fam and (fam["arms"]["dat"].get("perturbation_ratio") or 0.0) >= stats.INACTIVE_SHARE:
            return clip
    return None


budget = common.budget  # the stored pilot's budget of a family (in common: the sections read it without this module)
stored = common.pilot_data


def _improvement_cell(fam, arm):
    v = fam["improvement"].get(arm, {}).get(str(fam["budget"]))
    return "-" if v is None or not np.isfinite(v) else f"{100 * v:+.1f}%"


def _final_cell(fam, arm):
    r = fam["arms"][arm]
    if fam["kind"] != "digits":
        v = r["final"]["mode_mass_error"]
        return f"mass error {v:.3f}" if _finite(v) else "no sample near a mode (mass error undefined)"
    f, s = r["final"].get("fid_train"), r["final"].get("is")
    return "diverged" if f is None else f"FID {f:.1f}, IS {s:.2f}"


RULE_TEXT = (
    "**The convergence rule** (`dat_study/convergence.py`, fixed before any run of this edition): "
    "seed 0 of each family's central arms trains to the family's cap (digits: {cap} generator steps; 2D "
    "mixtures: {mcap}) with {points} evaluations along the way (FID with the digits classifier, 2000 samples; "
    "the mode mass error for the mixtures). For a candidate budget S the end-of-training improvement is "
    "(m(0.8 S) - m(S)) / m(0.8 S), m(s) the mean of the evaluations within one spacing of s. The budget is the "
    "smallest S of the grid at which the improvement is under {slowed:.0%} in every piloted arm that learned "
    "and stays under it at every larger grid value up to the cap; if none does, the cap (marked). An arm that "
    "did not learn (final IS under {fis:g}, FID over {ffac:g}, or diverged; for the mixtures, no sample near "
    "any mode at the end, where the mode mass error is undefined: added when the first such run was seen, in the "
    "pilot, before any comparison run) does not enter the rule (revised after the pilot, before any comparison run: its first version also called a run that did "
    "not reach a third of the family's best FID failed, which at these budgets called baselines that had plainly "
    "learned failed, e.g. the GAN row's None at FID 16 with IS 6.7 beside DAT's 4.5). Speed claims are judged on "
    "the curves at fixed early steps, end-state claims at the budget; every "
    "comparison run stores its own curve (an evaluation every 5% of its budget).")


def section_markdown(opts, sec):
    """The pilot's part of the page: the rule, each family's curves, budget and readings."""
    data = sec["data"]
    fams = data["families"]
    caps = sorted({f["cap"] for f in fams.values() if f["kind"] == "digits"})
    mcaps = sorted({f["cap"] for f in fams.values() if f["kind"] != "digits"})
    lines = [RULE_TEXT.format(cap="/".join(map(str, caps)) or "-", mcap="/".join(map(str, mcaps)) or "-",
                              points=opts.pilot_points, slowed=convergence.SLOWED, fis=stats.FAILED_IS,
                              ffac=stats.FAILED_FID), "",
             "| family | used by | cap | budget | arm: final at the cap; improvement over the last 20% at the budget | "
             "did not learn |", "|---|---|---:|---:|---|---|"]
    for name, fam in fams.items():
        arms = "; ".join(f"{a}: {_final_cell(fam, a)}; {_improvement_cell(fam, a)}" for a in fam["arms"])
        failed = ", ".join(a for a, ok in fam["learned"].items() if not ok) or "-"
        lines.append(f"| {fam['title']} | {fam['section']} | {fam['cap']} | {fam['budget']}"
                     f"{' (cap: not slowed)' if fam['capped'] else ''} | {arms} | {failed} |")
    waiting = sorted({f.section for n, f in families(opts).items() if n not in fams})
    if waiting:
        lines += ["", "Not piloted yet (the pilot runs in passes, `--pilot_sections=...`; a section runs only after its "
                  "families' pass): the families of " + ", ".join(waiting) + "."]
    readings = data.get("readings", {})
    if readings:
        lines += ["", "**Table 3's readings** (rule fixed before the pilot, `pilot.TABLE3_READINGS`): a loss row is "
                  "judged on the AR/RFM code base's reading (a sigmoid on D's output for LSGAN and WGAN) when its None "
                  "learns in the pilot, else on D's logit (no sigmoid; nothing else changed). Chosen: " +
                  ", ".join(f"{row.upper() if row != 'gan' else 'GAN'}: D's {r}" for row, r in readings.items()) + "."]
        for row, reading in readings.items():
            for r in TABLE3_READINGS[row]:
                fam = fams.get(table3_family(row, r))
                if fam:
                    lines.append(f"- {fam['title']}: None {_final_cell(fam, 'none')} at the cap "
                                 f"({'learned' if fam['learned']['none'] else 'did not learn'})"
                                 f"{' - the verdicts use this reading' if r == reading else ' - a labelled arm'}.")
    cands = [(c, fams.get(ours_family(c))) for c in OURS_CANDIDATES]
    if any(f for _, f in cands):
        chosen = data.get("ours")
        lines += ["", "**Our WGAN setting** (rule fixed before the pilot): the paper's WGAN clips D's weights at "
                  "0.01; our setting is the first wider clip of " + ", ".join(f"{c:g}" for c in OURS_CANDIDATES) +
                  f" at which DAT's pilot perturbation is at least {stats.INACTIVE_SHARE:g} of the inputs' norm. "
                  "Pilot perturbation / input norm (tail mean): " +
                  ", ".join(f"clip {c:g}: {f['arms']['dat'].get('perturbation_ratio', float('nan')):.3g}"
                            for c, f in cands if f) + ". Chosen: " +
                  (f"clip {chosen:g}." if chosen is not None else "none (DAT inactive in every candidate).")]
    if opts.draw:
        _plot(opts, fams)
    lines += ["", "![The pilot's curves](results/pilot.png)"]
    capped = [f["title"] for f in fams.values() if f["capped"]]
    verdict = (f"Budgets fixed for {len(fams)} families before any comparison run"
               + (f"; at the cap, still improving: {', '.join(capped)}" if capped else "; every family slowed "
                  "before its cap") + ".")
    return lines, [verdict], "budgets fixed"


def _plot(opts, fams):
    from dat_study.common import pyplot

    plt = pyplot()
    names = list(fams)
    cols = 4
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        fam = fams[name]
        key = "fid_train" if fam["kind"] == "digits" else "mode_mass_error"
        for arm, r in fam["arms"].items():
            pts = [(s, v) for s, v in convergence.curve_of(r, key) if v is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=arm + ("" if fam["learned"][arm] else
                                                                                 " (did not learn)"))
        ax.axvline(fam["budget"], color="k", ls="--", lw=0.8)
        ax.set_title(fam["title"], fontsize=8)
        ax.set_ylabel("FID (digits)" if key == "fid_train" else "mode mass error", fontsize=7)
        if key == "fid_train":
            ax.set_yscale("log")
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    os.makedirs(opts.artefacts, exist_ok=True)
    fig.savefig(os.path.join(opts.artefacts, "pilot.png"), dpi=90)
    plt.close(fig)
