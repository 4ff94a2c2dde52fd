#!/usr/bin/env python
"""Memory and time to the first iteration, dat_tf against the PyTorch peer (torch-mimicry's SNGAN-32).

Why: a user's first minute is import, build and the first iteration; on a shared or small machine the
resident memory decides how many runs fit at once.  The step-time tables measure steady state only.
Each configuration runs alone in a fresh process, one after the other (nothing else computing), and
reports, from the process's first line: the time and resident memory (RSS, ``/proc/self/status``)
after importing its framework, after building the nets and optimizers, after the first finished
iteration (for TensorFlow: tracing the train step), and after ``--iterations`` more, with the peak RSS
(``ru_maxrss``).  The stages say where the memory goes: the framework's runtime, the weights and
optimizer state (counted: parameters x 4 bytes x 3 for Adam's two moments), the first iteration's
tracing, kernels and buffers, and what steady training adds.

    python benchmarks/first_step.py                     # writes benchmarks/first_step.md (needs the peer venv)
    python benchmarks/first_step.py --no-peer --out=-   # dat_tf's rows only, to stdout

The peer runs in its own environment (``python benchmarks/peers.py --setup runs/peers-venv``).  One
process per row, so each number is a single measurement: run it on a quiet machine.

This file imports only the standard library at the top: it is also the worker in each framework's
process (``--worker=dat_tf`` / ``--worker=mimicry``, one JSON line on stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

START = time.perf_counter()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.procstat import peak_mib, rss_mib  # noqa: E402  (the standard library only)

# Rows: (key, title, worker, regularizer, extra environment). MALLOC_ARENA_MAX=2 is the cheap fix tried: glibc
# gives each thread that allocates its own arena (TensorFlow's pools have many), which inflates RSS.
ROWS = (
    ("mimicry", "PyTorch torch-mimicry (SNGAN-32, its own `train_step`s)", "mimicry", None, {}),
    ("dat_tf_none", "dat_tf `none`", "dat_tf", "none", {}),
    ("dat_tf_dat", "dat_tf `dat`", "dat_tf", "dat", {}),
    ("dat_tf_none_arena2", "dat_tf `none`, `MALLOC_ARENA_MAX=2`", "dat_tf", "none", {"MALLOC_ARENA_MAX": "2"}),
)


def _stage(stages, name):
    stages.append({"stage": name, "s": time.perf_counter() - START, "rss_mib": rss_mib()})


def worker_dat_tf(regularizer: str, iterations: int, quick: bool) -> dict:
    stages = []
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras  # noqa: F401
    import tensorflow as tf  # noqa: F401

    from benchmarks import harness
    import dat_tf  # noqa: F401

    _stage(stages, "import")
    over = harness.QUICK_OVERRIDES["sngan32"] if quick else {}
    cfg = harness.gan_config("sngan32", regularizer, **over)
    runner = harness.Runner(cfg, warmup=0)  # builds the GAN, its optimizers and the data; no step yet
    params = sum(int(v.shape.num_elements()) for v in runner.gan.generator.weights + runner.gan.discriminator.weights
                 if v.trainable)
    _stage(stages, "build")
    runner(1)
    _stage(stages, "first iteration")
    t = time.perf_counter()
    runner(iterations)
    steady = (time.perf_counter() - t) / iterations
    _stage(stages, f"{iterations} more")
    return {"stages": stages, "peak_mib": peak_mib(), "params": params, "steady_s": steady,
            "versions": harness.versions(), "settings": harness.net_settings(cfg)}


def worker_mimicry(iterations: int, quick: bool) -> dict:
    stages = []
    import torch  # noqa: F401

    from benchmarks import peers

    peers._import_mimicry()
    _stage(stages, "import")
    kw = dict(batch_size=16, n_dis=1) if quick else {}
    worker = peers.Worker(threads=2, **kw)
    params = sum(p.numel() for p in list(worker.netG.parameters()) + list(worker.netD.parameters()) if p.requires_grad)
    _stage(stages, "build")
    worker.iteration()
    _stage(stages, "first iteration")
    t = time.perf_counter()
    for _ in range(iterations):
        worker.iteration()
    steady = (time.perf_counter() - t) / iterations
    _stage(stages, f"{iterations} more")
    return {"stages": stages, "peak_mib": peak_mib(), "params": int(params), "steady_s": steady,
            "versions": {"torch": torch.__version__, "torch_mimicry": worker.mimicry_version}}


def run_row(row, python: str, iterations: int, quick: bool) -> dict:
    """One row in its own process; ``wall_s`` from starting the process to its answer."""
    key, _, worker, reg, env = row
    cmd = [python, os.path.abspath(__file__), f"--worker={worker}", f"--iterations={iterations}"]
    cmd += [f"--regularizer={reg}"] if reg else []
    cmd += ["--quick"] if quick else []
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **env), cwd=ROOT)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(f"{key}: exit {out.returncode}:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return dict(result, wall_s=wall, key=key)


def render(results: dict, meta: dict) -> list:
    """The markdown table (rows in :data:`ROWS` order, those measured) and where the memory goes."""
    lines = ["# Memory and time to the first iteration, against the PyTorch peer", "",
             f"*Measured {meta['date']} by `{meta['command']}`; {meta['machine']}; 1-min load average before / after "
             f"{meta['load'][0]:.1f} / {meta['load'][1]:.1f}. One fresh process per row, run one after the other; "
             "each number is one measurement.*", "",
             "SNGAN-32 as in the paper's Table 1 (mimicry's widths, batch 64, n_dis 5, hinge, Adam); one iteration = "
             "n_dis D steps and one G step on a fixed batch. Times are from the process's first line (the "
             "interpreter's own start-up excluded); RSS is resident memory after each stage, peak is `ru_maxrss`."
             + (" **--quick: shrunken nets (width 16, batch 16, n_dis 1); the numbers mean nothing.**"
                if meta.get("quick") else ""), "",
             "| framework | import: s, RSS | + build: s, RSS | + first iteration: s, RSS | then per iteration | "
             "peak RSS | weights + Adam (counted) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for key, title, *_ in ROWS:
        r = results.get(key)
        if r is None:
            continue
        st = {s["stage"]: s for s in r["stages"]}
        imp, bld, first = st["import"], st["build"], st["first iteration"]
        lines.append(
            f"| {title} | {imp['s']:.1f} s, {imp['rss_mib']:,.0f} MiB | +{bld['s'] - imp['s']:.1f} s, "
            f"+{bld['rss_mib'] - imp['rss_mib']:,.0f} MiB | +{first['s'] - bld['s']:.1f} s, "
            f"+{first['rss_mib'] - bld['rss_mib']:,.0f} MiB | {r['steady_s']:.2f} s | {r['peak_mib']:,.0f} MiB | "
            f"{r['params'] * 4 * 3 / 2**20:,.0f} MiB |")
    lines += ["", *where_it_goes(results)]
    return lines


def where_it_goes(results: dict) -> list:
    """Bullets read off the stages: the peak above the framework's import, what stays resident, the first iteration."""
    out = []
    for key, title, *_ in ROWS:
        r = results.get(key)
        if r is None:
            continue
        st = {s["stage"]: s for s in r["stages"]}
        last = r["stages"][-1]
        imp, first = st["import"], st["first iteration"]
        out.append(
            f"* {title}: peak {r['peak_mib']:,.0f} MiB, of which {imp['rss_mib']:,.0f} the framework's import and "
            f"{r['peak_mib'] - imp['rss_mib']:,.0f} the work; after the steps {last['rss_mib']:,.0f} MiB stay resident "
            f"({last['rss_mib'] / r['peak_mib']:.0%} of the peak). First iteration finished {first['s']:.1f} s after "
            f"the process's first line, {first['s'] - st['build']['s'] - r['steady_s']:.1f} s more than a steady "
            "iteration (tracing, kernel and buffer set-up).")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", choices=("dat_tf", "mimicry"), help=argparse.SUPPRESS)
    p.add_argument("--regularizer", default="none", help=argparse.SUPPRESS)
    p.add_argument("--iterations", type=int, default=2, help="iterations timed after the first (default 2)")
    p.add_argument("--render", action="store_true", help="rewrite --out from its stored .json, measuring nothing")
    p.add_argument("--quick", action="store_true", help="tiny nets (a smoke test; numbers meaningless)")
    p.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True,
                   help="also run mimicry in the peer venv (default: yes)")
    p.add_argument("--peers_venv", default=os.path.join(ROOT, "runs", "peers-venv"), help="the peer's venv")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "first_step.md"), help="markdown, or - (stdout)")
    args = p.parse_args(argv)
    if args.iterations < 1:
        p.error(f"--iterations={args.iterations}: expected an integer >= 1")
    if args.worker == "dat_tf":
        print(json.dumps(worker_dat_tf(args.regularizer, args.iterations, args.quick)))
        return 0
    if args.render:  # the table again from the stored JSON
        with open(os.path.splitext(args.out)[0] + ".json") as f:
            stored = json.load(f)
        with open(args.out, "w") as f:
            f.write("\n".join(render(stored["results"], stored["meta"])) + "\n")
        return 0
    if args.worker == "mimicry":
        print(json.dumps(worker_mimicry(args.iterations, args.quick)))
        return 0
    load0 = os.getloadavg()[0]
    results = {}
    for row in ROWS:
        if row[2] == "mimicry":
            if not args.peer:
                continue
            from benchmarks import peers

            python = peers.ensure_venv(args.peers_venv, log=print)  # the venv's python
        else:
            python = sys.executable
        results[row[0]] = run_row(row, python, args.iterations, args.quick)
        print(f"first_step: {row[0]} done in {results[row[0]]['wall_s']:.0f} s", file=sys.stderr, flush=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": args.quick,
            "command": "python benchmarks/first_step.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
            "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}",
            "load": (load0, os.getloadavg()[0])}
    text = "\n".join(render(results, meta)) + "\n"
    if args.out == "-":
        print(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
