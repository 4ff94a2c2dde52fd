#!/usr/bin/env python
"""Markdown tables of docs/attack/results.jsonl (one bin/attack.py JSON line per run, checkpoint, eval seed).

    python docs/attack/summarize.py docs/attack/results.jsonl

Table 1: each training run and checkpoint, mean +- std (ddof=1) over the evaluation seeds.
Table 2: the training seeds pooled: mean +- std (ddof=1) over training seeds of each run's eval-seed mean.
"""

import collections
import json
import sys

import numpy as np


def fmt(values, digits=2):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    runs = collections.defaultdict(list)
    for r in rows:
        runs[(r["resolution"], r["regularizer"], r["train_seed"], r["step_of_model"])].append(r)
    keys = sorted(runs, key=lambda k: (k[0], k[3], k[2], k[1] != "none"))

    print("Table 1: per training run (mean ± std over evaluation seeds)\n")
    print("| images | D | train seed | G step | K_fake | K_real | success fake | success real | "
          "initial gap | pairs within tol | gap closed/step fake | gap closed/step real | eval seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        v = runs[k]
        col = lambda name, d=2: fmt([x[name] for x in v], d)  # noqa: E731
        print(f"| {k[0]}x{k[0]} | {k[1]} | {k[2]} | {k[3]} | {col('k_fake')} | {col('k_real')} | "
              f"{col('success_fake', 3)} | {col('success_real', 3)} | {col('initial_gap', 3)} | "
              f"{col('initially_within_tol')} | {col('rate_fake', 4)} | {col('rate_real', 4)} | "
              f"{sorted(x['seed'] for x in v)} |")

    pooled = collections.defaultdict(list)
    for k in keys:
        pooled[(k[0], k[3], k[1])].append(runs[k])
    print("\nTable 2: training seeds pooled (mean ± std over training seeds of each run's eval-seed mean)\n")
    print("| images | G step | D | train seeds | K_fake | K_real | success fake | success real | initial gap | "
          "gap closed/step fake | gap closed/step real |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (res, step, reg), group in sorted(pooled.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] != "none")):
        if len(group) < 2:
            continue

        def col(name, d=2):
            per_run = [[x[name] for x in v if x[name] is not None] for v in group]
            return fmt([np.mean(vals) for vals in per_run if vals], d)

        seeds = sorted(v[0]["train_seed"] for v in group)
        print(f"| {res}x{res} | {step} | {reg} | {seeds} | {col('k_fake')} | {col('k_real')} | "
              f"{col('success_fake', 3)} | {col('success_real', 3)} | {col('initial_gap', 3)} | "
              f"{col('rate_fake', 4)} | {col('rate_real', 4)} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/attack/results.jsonl")
