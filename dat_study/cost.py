"""The study's cost section: the per-iteration time of each regularizer, read from the benchmarks' step table.

The measuring code lives in ``benchmarks/`` (``python benchmarks/run_all.py --tables=step`` writes
``benchmarks/results.json``); this section reads that table (the study does not import the benchmarks).
"""

from __future__ import annotations

import json
import os

from dat_study.paper import REG_TITLES

REGULARIZERS = ("none", "gp", "zero_gp", "asgan", "dat", "datt")
STEP_COMMAND = "python benchmarks/run_all.py --tables=step"


def run_section(opts) -> dict:
    """The step table as ``benchmarks/run_all.py`` stored it in ``opts.cost_results``."""
    if not os.path.isfile(opts.cost_results):
        raise RuntimeError(f"{opts.cost_results} is missing: run `{STEP_COMMAND}` first (the cost section reads it).")
    with open(opts.cost_results) as f:
        table = json.load(f)["tables"]["step"]
    return section_data(table, source=opts.cost_results)


def section_data(table, source) -> dict:
    """What the section keeps of a step table entry (``benchmarks/results.json``'s ``tables.step``)."""
    nets = {}
    for net, entry in table["data"]["nets"].items():
        base = entry["results"]["none"]["median_s"]
        nets[net] = {
            "settings": entry["settings"],
            "seconds": {reg: r["median_s"] for reg, r in entry["results"].items()},
            "ratio": {reg: r["median_s"] / base for reg, r in entry["results"].items()},
        }
    return {"source": source, "date": table["date"], "command": table["command"], "wall_s": table.get("wall_s"),
            "quick": table.get("quick", False), "nets": nets}


def section_markdown(opts, sec):
    d = sec["data"]
    regs = [r for r in REGULARIZERS if any(r in n["ratio"] for n in d["nets"].values())]
    lines = [f"From `{d['command']}` ({d['date']}{', --quick: numbers meaningless' if d['quick'] else ''}); "
             "graph mode, median of interleaved rounds in one process, ratio to `none`. Full tables (XLA, "
             "replicas, memory): [benchmarks/README.md](../benchmarks/README.md).", "",
             "| net | setting | none (s/iteration) | " + " | ".join(REG_TITLES.get(r, r) for r in regs[1:]) + " |",
             "|---|---|---:|" + "---:|" * (len(regs) - 1)]
    summary = []
    for net, n in d["nets"].items():
        st = n["settings"]
        setting = f"batch {st.get('batch_size')}, n_dis {st.get('n_dis')}, {st.get('loss')} loss"
        lines.append(f"| {net} | {setting} | {n['seconds']['none']:.3f} | "
                     + " | ".join(f"{n['ratio'][r]:.2f}x" for r in regs[1:]) + " |")
        if "dat" in n["ratio"] and "gp" in n["ratio"]:
            summary.append(f"{net}: DAT {n['ratio']['dat']:.2f}x none, {n['ratio']['dat'] / n['ratio']['gp']:.2f}x GP")
    return lines, summary, "no claim"


def wall_time(sec):
    """A reused table took no time here: show the benchmark's own wall time."""
    seconds = sec["seconds"]
    if sec["data"].get("wall_s") and seconds < 60:
        return sec["data"]["wall_s"], " (the benchmark's own run)"
    return seconds, ""
