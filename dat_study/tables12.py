"""Tables 1 and 2, not run here: the commands, the paper's numbers beside them, and a projected cost per run.

No training: a Table 2 run is 100k generator steps of mimicry's SNGAN ResNets at n_dis 5, far beyond a
2-core CPU.  The section stores what it shows (:func:`run_section`): the flagfile families, the paper's
Table 2 (:data:`dat_study.paper.PAPER_TABLE2`) and the projection

    projected seconds per run = measured seconds per iteration x 100,000 iterations

from the stored cost section (:mod:`.cost`, one iteration = n_dis D steps and one G step, batch 64,
median over interleaved rounds), for the nets the cost section measured (SNGAN at 32x32, which
CIFAR-10 and CIFAR-100 both use).  Everything else is "not measured", never extrapolated.  A
measured GPU time is shown only if the cost section holds one (``gpu_nets``, same shape as ``nets``).

Example:

>>> projected_hours(15.0, 100_000)
416.6666666666667
"""

from __future__ import annotations

from dat_study.common import load_section
from dat_study.paper import PAPER_TABLE2, TABLE12_DATASETS, TABLE12_ITERS, TABLE12_MODELS

# flagfile suffix: (what the arm runs, the cost section's regularizer whose time stands for it)
ARMS = {
    "": ("no regularizer", "none"),
    "_dat": ("DAT, the reference variant (the authors' released code, which produced Table 2): raw logits, "
             "batch-mean gap, step -clip(grad, -1, 1); clip=both for SSGAN and InfoMaxGAN, clip=fake for SNGAN, "
             "as the authors' copies of each model", "dat"),
    "_dat_paper": ("DAT, the paper variant (Eq. 9-10 in g1/g2 space, no clip)", "dat"),
}
# The clip of each model's *_dat flagfile (the authors' copies: SSGAN and InfoMaxGAN clip reals too).
REFERENCE_CLIP = {"sngan": "fake", "ssgan": "both", "infomaxgan": "both"}
# (model, dataset) -> the cost section's net key that measured exactly that net and batch.
MEASURED_NET = {("sngan", "cifar10"): "sngan32", ("sngan", "cifar100"): "sngan32"}


def projected_hours(seconds_per_iteration: float, iterations: int = TABLE12_ITERS) -> float:
    """``seconds_per_iteration * iterations`` in hours (training only: no evaluation, checkpoints or data start-up)."""
    if not seconds_per_iteration > 0:
        raise ValueError(f"seconds_per_iteration must be > 0, got {seconds_per_iteration!r}.")
    return seconds_per_iteration * iterations / 3600.0


def _projection(cost_nets: dict | None, model: str, dataset: str, suffix: str):
    """``(hours, note)`` for one flagfile, or ``(None, "not measured")``."""
    net = MEASURED_NET.get((model, dataset))
    reg = ARMS[suffix][1]
    entry = (cost_nets or {}).get(net) if net else None
    seconds = (entry or {}).get("seconds", {}).get(reg)
    if not seconds:
        return None, "not measured"
    return projected_hours(seconds), f"{net} '{reg}' at {seconds:.2f} s/iteration"


def run_section(opts) -> dict:
    """The commands and projections, from the stored cost section (run the cost section first)."""
    cost = load_section(opts, "cost")
    if cost is None:
        raise RuntimeError("the tables12 section reads the cost section's timings: run the cost section first.")
    data = cost["data"]
    rows = []
    for model in TABLE12_MODELS:
        for dataset in TABLE12_DATASETS:
            for suffix in ARMS:
                name = f"{model}_{dataset}{suffix}"
                cpu, cpu_note = _projection(data.get("nets"), model, dataset, suffix)
                gpu, gpu_note = _projection(data.get("gpu_nets"), model, dataset, suffix)
                rows.append({"flagfile": f"configs/{name}.flags", "model": model, "dataset": dataset, "arm": suffix,
                             "cpu_hours": cpu, "cpu_note": cpu_note, "gpu_hours": gpu, "gpu_note": gpu_note})
    return {"rows": rows, "iterations": TABLE12_ITERS, "cost_date": data.get("date"),
            "cost_machine": cost.get("machine"), "cost_command": data.get("command")}


def wall_time(sec):
    return sec["seconds"], " (no training: commands and projections only)"


def measured(sec):
    return f"{sec['data'].get('cost_date') or 'not stored'} (the cost section's timings)"


# ------------------------------------------------------------------ the page


def _hours(h):
    if h is None:
        return "not measured"
    return f"{h:.0f} h ({h / 24:.1f} days)" if h >= 48 else f"{h:.1f} h"


def _pair(values, i, digits):
    base, dat = values[2 * i], values[2 * i + 1]
    if base is None:
        return "-"
    return f"{base:.{digits}f} → {dat:.{digits}f}"


def section_markdown(opts, sec):
    data = sec["data"]
    lines = [
        "**Not run here.** Each run is 100k generator steps at n_dis 5 (Table 1); the projection below is the "
        f"cost section's measured seconds per iteration x {data['iterations']:,} iterations on "
        f"{data.get('cost_machine') or 'the cost section machine'} (measured {data.get('cost_date') or 'not stored'}), "
        "training only, labelled a **projection**; nets the cost section did not time are *not measured*.",
        "",
        "Commands (one per flagfile family; `<dataset>` is one of "
        + ", ".join(f"`{d}`" for d in TABLE12_DATASETS) + "):",
        "",
        "```bash",
    ]
    short = {"": "no regularizer", "_dat": "DAT, reference variant (the authors' code), --dat_clip={clip}",
             "_dat_paper": "DAT, paper variant (Eq. 9-10), no clip"}
    for model in TABLE12_MODELS:
        for suffix in ARMS:
            what = short[suffix].format(clip=REFERENCE_CLIP[model])
            lines.append(f"python bin/train.py --flagfile=configs/{model}_<dataset>{suffix}.flags   # {what}")
    lines += [
        "python bin/eval.py --run_dir=runs/<flagfile name> --classifier=inception --num_samples=50000 --seeds=3",
        "```",
        "",
        f"`*_dat` and `*_dat_paper` differ only in the DAT variant (and the clip). `*_dat`: {ARMS['_dat'][0]}. "
        f"`*_dat_paper`: {ARMS['_dat_paper'][0]}. With the hinge loss the paper variant has zero gradient for "
        "reals with D >= 1 and fakes with D <= -1, so confident examples are never perturbed.",
        "",
        "The paper's Table 2 (base → DAT; FID and KID lower is better, IS higher) beside the projected CPU "
        "time of one run of each flagfile:",
        "",
        "| model | dataset | FID train | FID test | KID train | KID test | IS | projected CPU time per run "
        "(base / `_dat` / `_dat_paper`) | on one GPU |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    by_key = {(r["model"], r["dataset"], r["arm"]): r for r in data["rows"]}
    for i, (model, title) in enumerate(TABLE12_MODELS.items()):
        for dataset, dtitle in TABLE12_DATASETS.items():
            t = PAPER_TABLE2
            cpu = " / ".join(_hours(by_key[(model, dataset, s)]["cpu_hours"]) for s in ARMS)
            gpus = {_hours(by_key[(model, dataset, s)]["gpu_hours"]) for s in ARMS}
            gpu = gpus.pop() if len(gpus) == 1 else " / ".join(
                _hours(by_key[(model, dataset, s)]["gpu_hours"]) for s in ARMS)
            lines.append(
                f"| {title} | {dtitle} | {_pair(t['fid'][dataset]['train'], i, 2)} | "
                f"{_pair(t['fid'][dataset]['test'], i, 2)} | {_pair(t['kid'][dataset]['train'], i, 4)} | "
                f"{_pair(t['kid'][dataset]['test'], i, 4)} | {_pair(t['is'][dataset], i, 2)} | {cpu} | {gpu} |")
    notes = sorted({r["cpu_note"] for r in data["rows"] if r["cpu_hours"] is not None})
    if notes:
        lines += ["", "Projections rest on: " + "; ".join(notes) + " (DAT was timed in the paper variant; the "
                  "reference variant makes the same one input-gradient pass per D step and was not timed apart)."]
    claims = ["Tables 1/2: **not run here** (commands, the paper's numbers and a projected cost only; no verdict)."]
    return lines, claims, "not run here"
