#!/usr/bin/env python
"""Regenerates ``benchmarks/README.md``: every benchmark table of ``dat_tf`` in one command.

    python benchmarks/run_all.py                   # all tables (tens of minutes on 2 CPU cores)
    python benchmarks/run_all.py --quick           # smoke test: shrunken nets, 2 rounds (a few minutes)
    python benchmarks/run_all.py --tables=xla,eval # only these tables; the others are kept from results.json
    python benchmarks/run_all.py --peers           # also the PyTorch peer (sets up runs/peers-venv once)

Tables (``--tables``):

* ``step``: per-iteration time of SNGAN-32 and DCGAN-32 with each regularizer,
  graph mode, ratio to ``none`` (interleaved rounds in one process, median).
* ``xla``: graph mode vs XLA (``jit_compile``) for ``none`` and ``dat``, side by side.
* ``replicas``: 1 vs 2 replicas (``MirroredStrategy`` over 2 logical CPU devices,
  same global batch) for DCGAN-32 ``none`` and ``dat``, both in one fresh process.
* ``memory``: peak host RSS of building and training each (net, regularizer)
  for a few steps, one fresh process per configuration.
* ``eval``: seconds per 1k images of the digits classifier and of an
  InceptionV3 (random weights) at 299x299, extrapolated to 50k.
* ``pipeline``: images per second of the training input pipeline alone (mock
  CIFAR-10 and STL-10 through the real preprocessing, cache and prefetch) and
  the iteration time below which it would starve the model.
* ``efficiency``: SNGAN-32 on the benchmark path and the command line's path
  (``bin/train.py``'s defaults), FLOPs per iteration counted from the graph,
  the achieved rate against the machine's fp32 peak, a profile of one
  iteration, DAT's floor, and a GPU projection (:mod:`benchmarks.flops`).
* ``precision``: float32 vs ``mixed_bfloat16`` (SNGAN-32 none and dat), and
  digits FID in both over 3 seeds, paired.
* ``peers`` (only with ``--peers`` or ``--tables=peers``): torch-mimicry's
  SNGAN-32 ``train_step`` interleaved with dat_tf's ``none`` and both DAT
  variants; the PyTorch environment is set up under ``runs/`` by
  ``benchmarks/peers.py``.

Every table runs in fresh subprocesses (this script with ``--worker=<table>``):
one per net for ``step`` and ``xla``, one per configuration for ``memory``, one
each for ``replicas`` and ``eval``.  The timing code, and the step table's
nets, rounds and steps, are :mod:`benchmarks.harness`'s (``make_runner``,
``interleaved``, ``time_side_by_side``; the study's cost section uses them too).  Raw results
go to ``benchmarks/results.json``; the README is rendered from it, so
``--tables`` refreshes some tables and keeps the rest (each table states its
own date, command and wall time).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from benchmarks import harness as cost  # noqa: E402
from benchmarks.procstat import peak_mib, rss_mib  # noqa: E402

TABLES = ("step", "xla", "replicas", "memory", "eval", "pipeline", "efficiency", "precision", "peers")
# Run unless --tables names them: peers needs a PyTorch virtual environment (--peers sets it up).
OPTIONAL_TABLES = ("peers",)
REGULARIZERS = list(cost.REGULARIZERS)
NETS = list(cost.STEP_NETS)
NET_TITLES = {"sngan32": "SNGAN-32", "dcgan32": "DCGAN-32", "mlp": "MLP (2D)"}
# Steps of the memory runs (steps per timing round, warm-up and --quick's nets: cost.STEPS, WARMUP, QUICK_OVERRIDES).
MEMORY_STEPS = {"sngan32": 2, "dcgan32": 3, "mlp": 3}


# ------------------------------------------------------------------ helpers


def _parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="Smoke test: shrunken nets (cost.QUICK_OVERRIDES), 2 rounds of 1 step, few images. "
                        "Checks that every table runs; its numbers mean nothing.")
    p.add_argument("--tables", default="",
                   help=f"Comma-separated subset of {','.join(TABLES)} (default: all but {','.join(OPTIONAL_TABLES)}).")
    p.add_argument("--peers", action="store_true",
                   help="Also run the peers table: sets up a PyTorch virtual environment at --peers_venv (CPU torch "
                        "and torch-mimicry from PyPI, once) and times mimicry's SNGAN-32 beside dat_tf's.")
    p.add_argument("--peers_venv", default=os.path.join(ROOT, "runs", "peers-venv"),
                   help="Where the peers table's PyTorch virtual environment lives (created if missing).")
    p.add_argument("--nets", default=",".join(NETS), help="Nets of the step, xla and memory tables.")
    p.add_argument("--regularizers", default=",".join(REGULARIZERS), help="Regularizers of the step and memory tables.")
    p.add_argument("--rounds", type=int, default=0, help="Interleaved timing rounds (0: 5, or 2 with --quick).")
    p.add_argument("--steps", type=int, default=0,
                   help="Train steps per round (0: 1 for sngan32, 5 for dcgan32; 1 with --quick).")
    p.add_argument("--memory_jobs", type=int, default=2,
                   help="Memory-table processes run at once (peak RSS is per process, so this does not change it).")
    p.add_argument("--digits_images", type=int, default=0, help="Images per digits-classifier timing (0: 5000; quick 1000).")
    p.add_argument("--inception_images", type=int, default=0, help="Images per InceptionV3 timing (0: 64; quick 8).")
    p.add_argument("--eval_repeats", type=int, default=0, help="Timed passes of each classifier (0: 3; quick 1); median.")
    p.add_argument("--pipeline_examples", type=int, default=0,
                   help="Mock examples per dataset of the pipeline table (0: 20000; quick 2000).")
    p.add_argument("--out", default=os.path.join(HERE, "README.md"), help="Markdown report to write.")
    p.add_argument("--results", default=os.path.join(HERE, "results.json"), help="Raw results (read to keep unselected tables).")
    p.add_argument("--render", action="store_true",
                   help="Only rewrite --out from --results (after editing this script's report code); runs nothing.")
    p.add_argument("--table_timeout", type=float, default=0, help="Seconds per worker subprocess (0: no limit).")
    # Internal: run one table (or one memory configuration) in this process and write JSON to --worker_out.
    p.add_argument("--worker", choices=TABLES, help=argparse.SUPPRESS)
    p.add_argument("--worker_out", help=argparse.SUPPRESS)
    p.add_argument("--net", help=argparse.SUPPRESS)
    p.add_argument("--regularizer", help=argparse.SUPPRESS)
    p.add_argument("--peers_python", help=argparse.SUPPRESS)
    return p


def _csv(text):
    return [s.strip() for s in text.split(",") if s.strip()]


def _rounds(args):
    return args.rounds or (cost.QUICK_ROUNDS if args.quick else cost.ROUNDS)


def _steps(args, net):
    return args.steps or (1 if args.quick else cost.STEPS[net])


def _warmup(args, net):
    return 1 if args.quick else cost.WARMUP[net]


def _overrides(args, net):
    return dict(cost.QUICK_OVERRIDES[net]) if args.quick else {}


def _log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# Workers park their models here: destroying TensorFlow functions and graphs takes seconds to minutes,
# so nothing is freed before the worker process ends with os._exit.
_KEEP_ALIVE = []


# ------------------------------------------------------------------ workers


def _built(table, net):
    """Progress line after each model's first steps (``cost.time_side_by_side``'s ``on_built``)."""
    def log(key, runner):
        name = "/".join(key) if isinstance(key, tuple) else key
        _log(f"{table}: built {net}/{name} (first steps {runner.warmup_s:.1f} s)")

    return log


def worker_step(args):
    """Table 1 for one net (``--net``): graph-mode step time per regularizer, timed side by side."""
    regs, out = _csv(args.regularizers), {"nets": {}, "rounds": _rounds(args), "versions": cost.versions()}
    net = args.net
    out["nets"][net] = cost.step_entry(net, regs, _rounds(args), _steps(args, net), _warmup(args, net),
                                       _overrides(args, net), on_built=_built("step", net))
    results = out["nets"][net]["results"]
    _log(f"step: {net}: " + ", ".join(f"{r} {results[r]['median_s'] * 1e3:.1f} ms" for r in regs))
    return out


def worker_xla(args):
    """Table 2 for one net (``--net``): graph vs XLA for none and dat, timed side by side."""
    out = {"nets": {}, "rounds": _rounds(args), "versions": cost.versions()}
    net = args.net
    cfgs = {(r, mode): cost.gan_config(net, r, xla=(mode == "xla"), **_overrides(args, net))
            for r in ("none", "dat") for mode in ("graph", "xla")}
    steps = _steps(args, net)
    runners, results = cost.time_side_by_side(cfgs, _rounds(args), steps, _warmup(args, net), _built("xla", net))
    for (r, mode), runner in runners.items():
        if bool(runner.gan.jit_compile) != (mode == "xla"):
            raise RuntimeError(f"{net}/{r}/{mode}: the model's jit_compile is {runner.gan.jit_compile}")
    out["nets"][net] = {
        "settings": cost.net_settings(cfgs["none", "graph"]), "steps": steps,
        "results": {f"{r}/{m}": res for (r, m), res in results.items()},
    }
    _log(f"xla: {net}: " + ", ".join(f"{k} {res['median_s'] * 1e3:.1f} ms" for k, res in out["nets"][net]["results"].items()))
    return out


def worker_replicas(args):
    """Table 3: 1 vs 2 replicas (MirroredStrategy over 2 logical CPUs), same global batch, one process."""
    # Split the CPU into 2 logical devices before anything starts the TensorFlow runtime.
    from dat_tf.train.strategy import make_strategy

    mirrored = make_strategy("mirrored", 2)
    import tensorflow as tf

    net, regs = "dcgan32", ("none", "dat")
    runners, cfgs = {}, {}
    for r in regs:
        for n in (1, 2):
            kw = dict(strategy="mirrored", num_devices=2) if n == 2 else dict(strategy="default")
            cfgs[r, n] = cost.gan_config(net, r, **kw, **_overrides(args, net))
            runners[r, n] = cost.make_runner(cfgs[r, n], warmup=_warmup(args, net))
            if runners[r, n].replicas != n:
                raise RuntimeError(f"{r}: expected {n} replicas, the model has {runners[r, n].replicas}")
            _log(f"replicas: built {net}/{r}/{n} replica(s) (first steps {runners[r, n].warmup_s:.1f} s)")
    _KEEP_ALIVE.append(runners)
    steps = _steps(args, net)
    times = cost.interleaved(runners, _rounds(args), steps)
    med = cost.medians(times)
    _log("replicas: " + ", ".join(f"{r}/{n} {med[r, n] * 1e3:.1f} ms" for r, n in runners))
    return {
        "versions": cost.versions(), "rounds": _rounds(args), "steps": steps,
        "devices": [d.name for d in tf.config.list_logical_devices("CPU")],
        "mirrored_devices": list(mirrored.extended.worker_devices),
        "nets": {net: {"settings": cost.net_settings(cfgs["none", 1]), "steps": steps,
                       "results": {f"{r}/{n}": {"median_s": med[r, n], "round_s": times[r, n],
                                                "warmup_s": runners[r, n].warmup_s} for (r, n) in runners}}},
    }


def worker_memory(args):
    """Table 4 (one configuration): peak RSS of build + a few steps minus the RSS after importing TF."""
    import tensorflow as tf  # already imported with dat_tf (cost)

    tf.constant(0.0).numpy()  # start the runtime: part of the baseline, not of the model's cost
    base, base_peak = rss_mib(), peak_mib()
    net, reg = args.net, args.regularizer
    steps = 1 if args.quick else MEMORY_STEPS[net]
    cfg = cost.gan_config(net, reg, **_overrides(args, net))
    runner = cost.make_runner(cfg, warmup=steps)
    _KEEP_ALIVE.append(runner)
    peak = peak_mib()
    return {"net": net, "regularizer": reg, "steps": steps, "settings": cost.net_settings(cfg), "base_mib": base,
            "import_peak_mib": base_peak, "peak_mib": peak, "delta_mib": peak - base, "end_mib": rss_mib(), "wall_s": runner.build_s + runner.warmup_s, "versions": cost.versions()}


def worker_eval(args):
    """Table 5: classifier feature cost, seconds per 1k images."""
    import keras
    import numpy as np

    from dat_tf.metrics import KerasClassifier, compute_activations, get_classifier

    repeats = args.eval_repeats or (1 if args.quick else 3)
    rng = np.random.default_rng(0)

    def time_classifier(clf, shape, n, batch):
        images = rng.uniform(-1, 1, (n, *shape)).astype("float32")
        t = time.perf_counter()
        compute_activations(images[:batch], clf, batch_size=batch)  # trace
        first = time.perf_counter() - t
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            feats, _ = compute_activations(images, clf, batch_size=batch)
            runs.append(time.perf_counter() - t)
        sec = float(np.median(runs))
        return {"images": n, "batch_size": batch, "input_shape": list(shape), "feature_dim": int(feats.shape[1]),
                "repeats": repeats, "run_s": runs, "median_s": sec, "first_batch_s": first,
                "s_per_1k": sec / n * 1000, "s_per_50k": sec / n * 50000}

    out = {"versions": cost.versions()}
    digits = get_classifier("digits")
    shape = tuple(int(d) for d in digits.model.inputs[0].shape[1:])
    n = args.digits_images or (1000 if args.quick else 5000)
    out["digits"] = time_classifier(digits, shape, n, 500)
    out["digits"]["name"] = "digits CNN, `dat_tf.metrics.get_classifier(\"digits\")`"
    _log(f"eval: digits {out['digits']['s_per_1k']:.3f} s / 1k images")

    t = time.perf_counter()
    keras.utils.set_random_seed(0)
    model = keras.applications.InceptionV3(weights=None, include_top=True)
    build_s = time.perf_counter() - t
    inception = KerasClassifier(model, "avg_pool", "predictions", name="InceptionV3")
    n = args.inception_images or (8 if args.quick else 64)
    out["inception"] = time_classifier(inception, (299, 299, 3), n, min(n, 32))
    out["inception"].update(name="`keras.applications.InceptionV3(weights=None, include_top=True)`", build_s=build_s)
    _log(f"eval: InceptionV3 {out['inception']['s_per_1k']:.1f} s / 1k images")
    _KEEP_ALIVE.extend([digits, inception, model])
    return out


# The Table 1/2 setting whose input the pipeline table measures: batch 64, n_dis 5 (Table 1).
PIPELINE_BATCH, PIPELINE_N_DIS = 64, 5


def worker_pipeline(args):
    """Table 6: the input pipeline alone, images per second (first pass and cached), against what an iteration takes."""
    import tensorflow_datasets as tfds

    from dat_tf.data.images import dataset_info, image_dataset

    n = args.pipeline_examples or (2000 if args.quick else 20000)
    per_iteration = PIPELINE_BATCH * PIPELINE_N_DIS
    out = {"versions": cost.versions(), "examples": n, "batch": PIPELINE_BATCH, "n_dis": PIPELINE_N_DIS,
           "datasets": {}}
    for name in ("cifar10", "stl10"):
        with tfds.testing.mock_data(num_examples=n, policy=tfds.testing.MockPolicy.USE_CODE):
            ds = image_dataset(name, "train", PIPELINE_BATCH, n_dis=PIPELINE_N_DIS, seed=0, download=False)
        it = iter(ds)
        first_pass = -(-n // per_iteration)  # batches of the first epoch: read, decode, preprocess, fill the cache
        t = time.perf_counter()
        for _ in range(first_pass):
            next(it)
        first_s = time.perf_counter() - t
        cached = 2 * first_pass
        t = time.perf_counter()
        for _ in range(cached):
            next(it)
        cached_s = time.perf_counter() - t
        info = dataset_info(name)
        row = {"resolution": info.resolution, "preprocessing": info.preprocessing,
               "first_images_per_s": first_pass * per_iteration / first_s,
               "cached_images_per_s": cached * per_iteration / cached_s,
               "first_batches": first_pass, "cached_batches": cached}
        row["first_iteration_floor_ms"] = 1000 * per_iteration / row["first_images_per_s"]
        row["cached_iteration_floor_ms"] = 1000 * per_iteration / row["cached_images_per_s"]
        out["datasets"][name] = row
        _log(f"pipeline: {name} first pass {row['first_images_per_s']:.0f} img/s, cached {row['cached_images_per_s']:.0f} img/s")
        _KEEP_ALIVE.append(it)
    return out


# ---- the command line's path, FLOPs, profile (table 7)

DAT_VARIANTS = {"dat_reference": {"variant": "reference"}, "dat_paper": {"variant": "paper"}}
SNGAN_FLAGFILE = os.path.join(ROOT, "configs", "sngan_cifar10.flags")
# GPU projection (a projection, not a measurement): one NVIDIA A100 (SXM), dense peak TFLOP/s and the share of it
# assumed reached, per arithmetic; TF uses TF32 tensor cores for float32 convolutions and matmuls on Ampere.
GPU_PROJECTION = {"name": "NVIDIA A100 SXM", "tf32_peak_tflops": 156.0, "fp32_peak_tflops": 19.5,
                  "utilisation": (0.2, 0.4), "table2_iterations": 100_000}


def _none_and_dat_configs(net, overrides):
    """``none`` and both DAT variants (keys ``none``, ``dat_reference``, ``dat_paper``) on ``net``."""
    cfgs = {"none": cost.gan_config(net, "none", **overrides)}
    for name, reg_args in DAT_VARIANTS.items():
        cfgs[name] = cost.gan_config(net, "dat", reg_args=reg_args, **overrides)
    return cfgs


# The Keras user's epoch in table 7: one pass over CIFAR-10's 50,000 training images at batch 64 and n_dis 5.
KERAS_EPOCH_STEPS = 50_000 // (64 * 5)


def _efficiency_configs(args, tmp):
    """The models of table 7: the benchmark path (none, both DAT variants) and the command line's (none)."""
    net, ov = "sngan32", _overrides(args, "sngan32")
    cfgs = _none_and_dat_configs(net, ov)
    # The old default: gradient-norm diagnostics on every step (what the command line ran before they moved to
    # the logging cadence).
    cfgs["none_diagnostics_every_step"] = cost.gan_config(net, "none", log_gradient_norms=True, log_every=1, **ov)
    cli = cost.cli_config(SNGAN_FLAGFILE, os.path.join(tmp, "cli_run"), verbose=1, **ov)
    return cfgs, cli


def worker_efficiency(args):
    """Table 7: SNGAN-32 per iteration on the benchmark and command-line paths, FLOPs, peak, profile, DAT's floor."""
    from benchmarks import flops
    from dat_tf.nets.layers import batch_norm_kernel

    rounds, steps, warmup = _rounds(args), _steps(args, "sngan32"), _warmup(args, "sngan32")
    tmp = tempfile.mkdtemp(prefix="dat_tf_bench_")
    cfgs, cli = _efficiency_configs(args, tmp)
    runners = {}
    for key, cfg in cfgs.items():
        runners[key] = cost.make_runner(cfg, warmup=warmup)
        _built("efficiency", "sngan32")(key, runners[key])
    runners["cli_defaults"] = cost.FitRunner(cli, cli.run_dir, warmup=warmup)
    _built("efficiency", "sngan32")("cli_defaults", runners["cli_defaults"])
    # A Keras user's path: GAN(...)'s defaults (diagnostics once per epoch) in a plain fit, epochs of one CIFAR-10 pass.
    keras_cfg = cost.gan_config("sngan32", "none", log_gradient_norms=True, **_overrides(args, "sngan32"))
    runners["keras_defaults"] = cost.KerasFitRunner(keras_cfg, KERAS_EPOCH_STEPS, warmup=warmup)
    _built("efficiency", "sngan32")("keras_defaults", runners["keras_defaults"])
    # Before the profile's fix: the generator's batch normalization on Keras' own statistics path.
    with batch_norm_kernel(fused=False):
        runners["none_keras_batch_norm"] = cost.make_runner(cfgs["none"], warmup=warmup)
    _built("efficiency", "sngan32")("none_keras_batch_norm", runners["none_keras_batch_norm"])
    _KEEP_ALIVE.append(runners)
    times = cost.interleaved(runners, rounds, steps)
    med = cost.medians(times)
    _log("efficiency: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in med.items()))
    epoch_end = sorted(runners["cli_defaults"].epoch_end_s() for _ in range(3))[1]  # median of 3
    counts = {k: flops.count_flops(runners[k]) for k in ("none", *DAT_VARIANTS, "none_diagnostics_every_step")}
    _log("efficiency: GFLOP per iteration " + ", ".join(f"{k} {c['total'] / 1e9:.1f}" for k, c in counts.items()))
    profiles = {k: flops.profile_step(runners[k], steps=1, top=10) for k in ("none", "dat_reference")}
    floors = {k: flops.dat_floor(runners["none"], runners[k], counts["none"], counts[k]) for k in DAT_VARIANTS}
    peak = flops.machine_peak()
    return {
        "versions": cost.versions(), "rounds": rounds, "steps": steps,
        "settings": cost.net_settings(cfgs["none"]),
        "cli": {"flagfile": os.path.relpath(SNGAN_FLAGFILE, ROOT), "log_every": cli.log_every,
                "steps_per_execution": cli.steps_per_execution, "log_gradient_norms": cli.log_gradient_norms,
                "checkpoint_every": cli.checkpoint_every, "on_nan": cli.on_nan, "epoch_end_s": epoch_end},
        "keras_epoch_steps": KERAS_EPOCH_STEPS,
        "results": {k: {"median_s": med[k], "round_s": times[k], "build_s": runners[k].build_s,
                        "warmup_s": runners[k].warmup_s} for k in runners},
        "flops": counts, "profiles": profiles, "floors": floors, "peak": peak, "gpu": GPU_PROJECTION,
    }


# ---- bfloat16 (table 8)

PRECISIONS = ("float32", "mixed_bfloat16")
DIGITS_FLAGFILE = os.path.join(ROOT, "configs", "digits.flags")
QUALITY_SEEDS = (0, 1, 2)
# Fixed before any run: mixed_bfloat16 is "as good" when the upper end of the 95% interval of the paired
# FID difference (bfloat16 - float32) is at most this share of float32's mean FID; "worse" when its lower end
# is above 0; otherwise "undecided".
QUALITY_MARGIN = 0.10


def worker_precision(args):
    """Table 8: float32 vs mixed_bfloat16, SNGAN-32 none and dat side by side, and digits FID over 3 seeds."""
    from dat_study.parallel import map_processes
    from dat_study.runner import RunSpec, run_one

    net, ov = "sngan32", _overrides(args, "sngan32")
    cfgs = {(r, p): cost.gan_config(net, r, precision=p, **ov) for r in ("none", "dat") for p in PRECISIONS}
    runners, results = cost.time_side_by_side(cfgs, _rounds(args), _steps(args, net), _warmup(args, net),
                                              _built("precision", net))
    _log("precision: " + ", ".join(f"{r}/{p} {res['median_s'] * 1e3:.0f} ms" for (r, p), res in results.items()))
    runs_dir = tempfile.mkdtemp(prefix="dat_tf_bench_digits_")
    n_iter = 100 if args.quick else None
    specs = []
    for seed in QUALITY_SEEDS[:2] if args.quick else QUALITY_SEEDS:
        for p in PRECISIONS:
            overrides = dict(run_dir=os.path.join(runs_dir, f"{p}_seed{seed}"), precision=p, seed=seed, verbose=0,
                             sample_every=0, checkpoint_every=0)
            if n_iter:
                overrides.update(n_iter=n_iter, log_every=50)
            specs.append(((p, seed), RunSpec.make(DIGITS_FLAGFILE, overrides, eval_samples=2000)))
    done = map_processes(run_one, [s for _, s in specs], 2)
    quality = [{"precision": p, "seed": seed, "fid_train": r["final"].get("fid_train"),
                "train_seconds": r["train_seconds"], "diverged_at": r["diverged_at"]}
               for ((p, seed), _), r in zip(specs, done)]
    _log("precision: digits FID " + ", ".join(f"{q['precision']}/{q['seed']} {q['fid_train']:.2f}" for q in quality))
    return {"versions": cost.versions(), "rounds": _rounds(args), "steps": _steps(args, net),
            "settings": cost.net_settings(cfgs["none", "float32"]),
            "results": {f"{r}/{p}": res for (r, p), res in results.items()},
            "quality": quality, "quality_flagfile": os.path.relpath(DIGITS_FLAGFILE, ROOT),
            "quality_margin": QUALITY_MARGIN}


# ---- the PyTorch peer (table 9, --peers)


def worker_peers(args):
    """Table 9: torch-mimicry's SNGAN-32 ``train_step`` interleaved with dat_tf none and both DAT variants."""
    import peers

    net, ov = "sngan32", _overrides(args, "sngan32")
    cfgs = _none_and_dat_configs(net, ov)
    threads = len(os.sched_getaffinity(0))
    runners = {}
    for key, cfg in cfgs.items():
        runners[key] = cost.make_runner(cfg, warmup=_warmup(args, net))
        _built("peers", net)(key, runners[key])
    _KEEP_ALIVE.append(runners)
    shrink = dict(batch_size=ov["batch_size"], n_dis=ov["n_dis"]) if args.quick else {}
    with peers.PeerProcess(args.peers_python, threads=threads, **shrink) as peer:
        _log(f"peers: mimicry ready ({peer.ready})")
        order = {"mimicry": peer.run, **runners}
        times = cost.interleaved(order, _rounds(args), _steps(args, net))
        ready = peer.ready
    med = cost.medians(times)
    _log("peers: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items()))
    return {"versions": cost.versions(), "rounds": _rounds(args), "steps": _steps(args, net), "threads": threads,
            "settings": cost.net_settings(cfgs["none"]), "mimicry": ready,
            "results": {k: {"median_s": med[k], "round_s": times[k]} for k in order}}


WORKERS = {"step": worker_step, "xla": worker_xla, "replicas": worker_replicas, "memory": worker_memory,
           "eval": worker_eval, "pipeline": worker_pipeline, "efficiency": worker_efficiency,
           "precision": worker_precision, "peers": worker_peers}


# ------------------------------------------------------------- orchestration


def _pass_through(args):
    flags = ["--nets", args.nets, "--regularizers", args.regularizers]
    for name in ("rounds", "steps", "digits_images", "inception_images", "eval_repeats", "pipeline_examples",
                 "peers_python"):
        if getattr(args, name) is not None:
            flags += [f"--{name}", str(getattr(args, name))]
    return flags + (["--quick"] if args.quick else [])


def _run_worker(args, table, extra=()):
    """Runs one worker subprocess; returns its JSON result or raises with the end of its stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path = os.path.join(tmp, "out.json"), os.path.join(tmp, "stderr.txt")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", table, "--worker_out", out_path,
               *_pass_through(args), *extra]
        # CPU benchmarks: hide any GPU (the replicas table splits the CPU; the memory table reads host RSS).
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"),
                   CUDA_VISIBLE_DEVICES="-1")
        with open(err_path, "w") as err:
            try:
                proc = subprocess.run(cmd, stdout=None, stderr=err, cwd=ROOT, env=env,
                                      timeout=args.table_timeout or None)
                rc = proc.returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        if rc != 0 or not os.path.exists(out_path):
            with open(err_path) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f"worker {table} {' '.join(extra)} failed (exit {rc}):\n{tail}")
        with open(out_path) as f:
            return json.load(f)


def _run_per_net(args, table):
    """One worker process per net (fresh process, no teardown of the previous net's graphs)."""
    out = None
    for net in _csv(args.nets):
        res = _run_worker(args, table, ["--net", net])
        if out is None:
            out = res
        else:
            out["nets"].update(res["nets"])
    return out


def _run_memory(args):
    configs = [(net, reg) for net in _csv(args.nets) for reg in _csv(args.regularizers)]

    def one(config):
        net, reg = config
        res = _run_worker(args, "memory", ["--net", net, "--regularizer", reg])
        _log(f"memory: {net}/{reg}: peak - baseline {res['delta_mib']:.0f} MiB")
        return res

    with concurrent.futures.ThreadPoolExecutor(max(1, args.memory_jobs)) as pool:
        results = list(pool.map(one, configs))
    return {"results": results, "jobs": max(1, args.memory_jobs), "versions": results[0]["versions"]}


def _cpu_model():
    """``model name`` of /proc/cpuinfo, with family/model numbers and the vector extensions TF uses."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # first processor only
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
    except OSError:
        return platform.processor() or "unknown"
    text = fields.get("model name", platform.processor() or "unknown")
    if "cpu family" in fields and "model" in fields:
        text += f" (family {fields['cpu family']}, model {fields['model']})"
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    have = [x for x in wanted if x in fields.get("flags", "").split()]
    if have:
        text += ", " + " ".join(have)
    return text


def _mem_total_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _package_version(*names):
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def _git_revision():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "") if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info():
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "cpu_model": _cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": affinity,
        "ram_gib": round(_mem_total_gib(), 1), "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "tensorflow": _package_version("tensorflow", "tensorflow-cpu"),
        "keras": _package_version("keras"), "numpy": _package_version("numpy"), "git": _git_revision(),
    }


def _command(argv):
    return "python benchmarks/run_all.py" + "".join(" " + shlex.quote(a) for a in argv)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](args)
        with open(args.worker_out, "w") as f:
            json.dump(result, f)
        _log(f"{args.worker} worker done ({time.process_time():.0f} s CPU)")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skip tearing down TensorFlow's graphs and functions (tens of seconds for big models)

    if args.render:
        with open(args.results) as f:
            stored = json.load(f)
        with open(args.out, "w") as f:
            f.write(render(stored["last_run"], stored["tables"]))
        _log(f"rendered {args.out} from {args.results}")
        return 0
    tables = _csv(args.tables) or [t for t in TABLES if t not in OPTIONAL_TABLES]
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise SystemExit(f"--tables: unknown {unknown}; expected a subset of {list(TABLES)}")
    if args.peers and "peers" not in tables:
        tables.append("peers")
    if "peers" in tables:
        sys.path.insert(0, HERE)
        import peers

        _log(f"peers: PyTorch virtual environment {args.peers_venv} ...")
        args.peers_python = peers.ensure_venv(args.peers_venv)
    previous = {}
    if os.path.exists(args.results):
        try:
            with open(args.results) as f:
                previous = json.load(f)
        except (OSError, json.JSONDecodeError):
            previous = {}
    results = dict(previous.get("tables", {}))
    command, machine, started = _command(argv), machine_info(), time.time()
    _log(f"{command}: tables {tables}; {machine['usable_cpus']} CPUs, {machine['cpu_model']}")
    failed = []
    for table in tables:
        _log(f"table {table} ...")
        load_before, t = os.getloadavg(), time.perf_counter()
        entry = {"date": _now(), "command": command, "quick": args.quick, "machine": machine}
        try:
            if table == "memory":
                entry["data"] = _run_memory(args)
            elif table in ("step", "xla"):
                entry["data"] = _run_per_net(args, table)
            else:
                entry["data"] = _run_worker(args, table)
        except Exception as e:  # noqa: BLE001 - reported in the README, the other tables still run
            entry["error"] = str(e)
            failed.append(table)
            _log(f"table {table} FAILED: {str(e)[:2000]}")
        entry["wall_s"] = time.perf_counter() - t
        entry["loadavg_before"], entry["loadavg_after"] = list(load_before), list(os.getloadavg())
        results[table] = entry
        _log(f"table {table} done in {entry['wall_s']:.0f} s")
    run = {"command": command, "date": _now(), "machine": machine, "tables_run": tables,
           "wall_s": time.time() - started, "quick": args.quick}
    with open(args.results, "w") as f:
        json.dump({"last_run": run, "tables": results}, f, indent=1)
    with open(args.out, "w") as f:
        f.write(render(run, results))
    _log(f"wrote {args.out} and {args.results} in {run['wall_s']:.0f} s" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


# ------------------------------------------------------------------ report


def _secs(s):
    return f"{s:.3g}" if s < 100 else f"{s:.0f}"


def _ms(s):
    return f"{s * 1e3:.0f} ms" if s >= 1 else f"{s * 1e3:.1f} ms"


def _machine_line(m):
    return (f"{m['cpu_model']}, {m['usable_cpus']} usable CPU cores ({m['logical_cpus']} logical), "
            f"{m['ram_gib']} GiB RAM, {m['os']}; Python {m['python']}, TensorFlow {m['tensorflow']}, "
            f"Keras {m['keras']}, NumPy {m['numpy']}; git {m['git']}")


def _settings_line(net, s):
    return (f"{NET_TITLES.get(net, net)}: {s['widths']}, batch {s['batch_size']}, n_dis {s['n_dis']}, "
            f"{s['loss']} loss, latent {s['latent_dim']}")


def _provenance(entry, run_machine):
    load = " / ".join(f"{x:.1f}" for x in entry["loadavg_before"][:1] + entry["loadavg_after"][:1])
    lines = [f"*Measured {entry['date']} by `{entry['command']}`; wall time of this table "
             f"{entry['wall_s']:.0f} s ({entry['wall_s'] / 60:.1f} min); 1-min load average before / after {load}.*"]
    if entry["machine"] != run_machine:
        lines.append(f"*On another machine or checkout than the header's: {_machine_line(entry['machine'])}.*")
    if entry.get("quick"):
        lines.append("*QUICK RUN (`--quick`): shrunken nets and 1-2 rounds; these numbers only show that the "
                     "script works. Do not quote them.*")
    return lines


def _ordered(keys, canonical):
    """``keys`` in ``canonical`` order, unknown ones last (results.json may come back reordered)."""
    keys = list(keys)
    return sorted(keys, key=lambda k: (canonical.index(k) if k in canonical else len(canonical), keys.index(k)))


def _nets(d):
    return [(net, d["nets"][net]) for net in _ordered(d["nets"], NETS + ["mlp"])]


def _render_step(d):
    lines = []
    regs = _ordered(next(iter(d["nets"].values()))["results"], REGULARIZERS)
    lines += ["| net | " + " | ".join(f"`{r}`" for r in regs) + " |", "|---|" + "---:|" * len(regs)]
    for net, nd in _nets(d):
        res = nd["results"]
        base = res.get("none", {}).get("median_s")
        cells = [_ms(res[r]["median_s"]) + (f" ({res[r]['median_s'] / base:.2f}x)" if base else "") for r in regs]
        lines.append(f"| {NET_TITLES.get(net, net)} | " + " | ".join(cells) + " |")
    lines.append("")
    for net, nd in _nets(d):
        lines.append(f"* {_settings_line(net, nd['settings'])}; median of {d['rounds']} rounds of {nd['steps']} step(s).")
    lines.append("* First call (tracing + first steps), seconds: " + "; ".join(
        f"{NET_TITLES.get(net, net)} " + ", ".join(f"{r} {nd['results'][r]['warmup_s']:.0f}" for r in regs)
        for net, nd in _nets(d)) + ".")
    return lines


def _render_xla(d):
    lines = ["| net | regularizer | graph | XLA | XLA / graph | first call graph | first call XLA (compile) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for net, nd in _nets(d):
        res = nd["results"]
        for r in ("none", "dat"):
            g, x = res[f"{r}/graph"], res[f"{r}/xla"]
            cg = cx = ""
            if r != "none":
                cg = f" ({g['median_s'] / res['none/graph']['median_s']:.2f}x none)"
                cx = f" ({x['median_s'] / res['none/xla']['median_s']:.2f}x none)"
            lines.append(f"| {NET_TITLES.get(net, net)} | `{r}` | {_ms(g['median_s'])}{cg} | {_ms(x['median_s'])}{cx} | "
                         f"**{x['median_s'] / g['median_s']:.2f}x** | {g['warmup_s']:.0f} s | {x['warmup_s']:.0f} s |")
    lines.append("")
    for net, nd in _nets(d):
        lines.append(f"* {_settings_line(net, nd['settings'])}; median of {d['rounds']} rounds of {nd['steps']} step(s).")
    return lines


def _render_replicas(d):
    lines = ["| net | regularizer | 1 replica | 2 replicas | 2 / 1 |", "|---|---|---:|---:|---:|"]
    for net, nd in _nets(d):
        res = nd["results"]
        for r in ("none", "dat"):
            one, two = res[f"{r}/1"]["median_s"], res[f"{r}/2"]["median_s"]
            lines.append(f"| {NET_TITLES.get(net, net)} | `{r}` | {_ms(one)} | {_ms(two)} | **{two / one:.2f}x** |")
        s = nd["settings"]
        lines += ["", f"* {_settings_line(net, s)} (global; {s['batch_size'] // 2} per replica with 2 replicas); "
                      f"median of {d['rounds']} rounds of {nd['steps']} step(s)."]
    lines.append(f"* Logical CPU devices in the process: {', '.join(d['devices'])}; "
                 f"MirroredStrategy over {', '.join(d['mirrored_devices'])}.")
    return lines


def _render_memory(d):
    res = d["results"]
    regs = _ordered(dict.fromkeys(r["regularizer"] for r in res), REGULARIZERS)
    by = {(r["net"], r["regularizer"]): r for r in res}
    nets = _ordered(dict.fromkeys(r["net"] for r in res), NETS + ["mlp"])
    lines = ["| net | " + " | ".join(f"`{r}`" for r in regs) + " |", "|---|" + "---:|" * len(regs)]
    for net in nets:
        base = by.get((net, "none"), {}).get("delta_mib")
        cells = []
        for r in regs:
            v = by[net, r]["delta_mib"]
            cells.append(f"{v:.0f} MiB" + (f" ({v / base:.2f}x)" if base else ""))
        lines.append(f"| {NET_TITLES.get(net, net)} | " + " | ".join(cells) + " |")
    lines.append("")
    for net in nets:
        first = by[net, regs[0]]
        lines.append(f"* {_settings_line(net, first['settings'])}; build + {first['steps']} train step(s) per process.")
    bases = [r["base_mib"] for r in res]
    lines.append(f"* Baseline (RSS after importing TensorFlow, Keras and dat_tf and starting the runtime, nothing built): "
                 f"{min(bases):.0f}-{max(bases):.0f} MiB; peak RSS of whole processes: "
                 f"{min(r['peak_mib'] for r in res):.0f}-{max(r['peak_mib'] for r in res):.0f} MiB. "
                 f"{d['jobs']} process(es) at a time.")
    return lines


def _render_eval(d):
    lines = ["| classifier | input | measured on | s / 1k images | s / 50k images (extrapolated) | first batch (trace) |",
             "|---|---|---|---:|---:|---:|"]
    for key in ("digits", "inception"):
        e = d[key]
        shape = "x".join(str(s) for s in e["input_shape"])
        lines.append(f"| {e['name']} | {shape} | {e['images']} images, batch {e['batch_size']}, median of {e['repeats']} | "
                     f"{_secs(e['s_per_1k'])} | {_secs(e['s_per_50k'])}"
                     + (f" ({e['s_per_50k'] / 60:.1f} min)" if e["s_per_50k"] >= 60 else "") + " | "
                     f"{e['first_batch_s']:.1f} s |")
    return lines


def _render_pipeline(d):
    per = d["batch"] * d["n_dis"]
    lines = ["| dataset | preprocessing | first pass, images/s | cached, images/s | data-bound below (first pass / cached) |",
             "|---|---|---:|---:|---:|"]
    for name, r in d["datasets"].items():
        lines.append(f"| {name} ({r['resolution']}x{r['resolution']}) | {r['preprocessing']} | "
                     f"{r['first_images_per_s']:,.0f} | {r['cached_images_per_s']:,.0f} | "
                     f"{r['first_iteration_floor_ms']:.1f} ms / {r['cached_iteration_floor_ms']:.1f} ms per iteration |")
    lines += ["", f"* One iteration of Tables 1/2 takes `n_dis x batch` = {d['n_dis']} x {d['batch']} = {per} images. "
              f"The last column is {per} / (images per second): the pipeline keeps up with any device whose "
              "iteration takes longer than that (compare with the step table's seconds per iteration on this CPU, "
              "or a GPU's).",
              f"* {d['examples']:,} mock examples per dataset (`tfds.testing.mock_data`, random images); first pass = "
              "the first epoch (mock examples generated, decoded and preprocessed, cache filled), cached = the next "
              "two epochs from the in-memory cache (shuffled, batched, prefetched). Real data reads PNGs from "
              "TFRecord files on the first pass instead of tfds's generated examples."]
    return lines


EFFICIENCY_ROWS = (
    ("none", "`none`, benchmark path (compiled train function; diagnostics off)"),
    ("cli_defaults", "`none`, command-line defaults (`fit` with the NaN guard, logger, checkpoints; diagnostics "
                     "every `log_every` steps)"),
    ("keras_defaults", "`none`, a Keras user's `GAN(...)` defaults (plain `fit`, no callbacks; diagnostics once per "
                       "epoch)"),
    ("none_diagnostics_every_step", "`none`, gradient-norm diagnostics on every step (`GAN(...)`'s default before "
                                    "it moved to once per epoch)"),
    ("none_keras_batch_norm", "`none`, Keras' own `BatchNormalization` (before the profile's fix: "
                              "`dat_tf.nets.layers.FusedBatchNormalization`)"),
    ("dat_reference", "`dat`, `reference`"),
    ("dat_paper", "`dat`, `paper`"),
)


def _render_efficiency(d):
    res, counts, peak = d["results"], d["flops"], d["peak"]
    base = res["none"]["median_s"]
    every = d["cli"]["log_every"]
    diag = counts["none_diagnostics_every_step"]["total"] - counts["none"]["total"]
    gflop = {k: c["total"] / 1e9 for k, c in counts.items()}
    gflop["cli_defaults"] = (counts["none"]["total"] + diag / every) / 1e9
    if "keras_epoch_steps" in d:
        gflop["keras_defaults"] = (counts["none"]["total"] + diag / d["keras_epoch_steps"]) / 1e9
    gflop.setdefault("none_keras_batch_norm", gflop["none"])  # the same arithmetic, other kernels
    lines = ["| path | s / iteration (median; min-max) | / benchmark `none` | GFLOP / iteration | achieved GFLOP/s | "
             "of measured peak | of nominal peak |", "|---|---:|---:|---:|---:|---:|---:|"]
    for key, title in EFFICIENCY_ROWS:
        if key not in res:
            continue  # measured before that row existed
        r = res[key]
        t = r["median_s"]
        rate = gflop[key] / t
        lines.append(f"| {title} | {t:.2f} ({min(r['round_s']):.2f}-{max(r['round_s']):.2f}) | **{t / base:.3f}x** | "
                     f"{gflop[key]:,.1f} | {rate:.0f} | {rate / peak['measured_gflops']:.0%} | "
                     f"{rate / peak['nominal_gflops']:.0%} |")
    cli = d["cli"]
    if "epoch_end_s" in cli:
        per_step = cli["epoch_end_s"] / cli["log_every"]
        total = (res["cli_defaults"]["median_s"] + per_step) / base
        lines += ["", f"**Command-line defaults / benchmark path: {total:.3f}x**, with the epoch-end work of its "
                      f"callbacks (the NaN guard's state snapshot, the logger, the progress line, the checkpoint "
                      f"check: {cli['epoch_end_s'] * 1e3:.0f} ms, timed once per {cli['log_every']} steps as on the "
                      f"command line: {per_step * 1e3:.2f} ms per iteration) added to the row above."]
    if "keras_defaults" in res:
        lines += ["", f"**A Keras user's `GAN(...)` defaults / command-line defaults: "
                      f"{res['keras_defaults']['median_s'] / res['cli_defaults']['median_s']:.3f}x** (`model.fit` with "
                      f"epochs of {d['keras_epoch_steps']} iterations, one CIFAR-10 pass at batch 64 and n_dis 5: the "
                      "diagnostics fire once per epoch; `benchmarks.harness.KerasFitRunner`)."]
    lines += [
        "",
        f"* {_settings_line('sngan32', d['settings'])}; median of {d['rounds']} interleaved rounds of {d['steps']} "
        f"iteration(s), all {len(res)} models in one process.",
        f"* Command-line defaults: the config `bin/train.py --flagfile={cli['flagfile']}` runs (log_every "
        f"{cli['log_every']}, steps_per_execution {cli['steps_per_execution']}, gradient-norm diagnostics "
        f"{'on' if cli['log_gradient_norms'] else 'off'}, checkpoint_every {cli['checkpoint_every']}, on_nan "
        f"{cli['on_nan']}), timed in one long `fit` with the callbacks the command line adds, paced step by step "
        "(`benchmarks.harness.FitRunner`; one step per execution where the command line runs "
        f"{cli['steps_per_execution']}, so an upper bound), on the benchmark's fixed batch (the input pipeline is "
        f"table 6). The diagnostics fire once every {cli['log_every']} steps and cost {diag / 1e9:,.1f} GFLOP "
        f"when they do ({diag / counts['none']['total']:.1%} of an iteration; "
        f"{diag / every / counts['none']['total']:.3%} amortised, included in its GFLOP column).",
        f"* Machine peak, fp32: nominal {peak['nominal_gflops']:.0f} GFLOP/s = {peak['cores']} cores x "
        f"{peak['flops_per_cycle']} FLOP/cycle x {peak['clock_mhz']:.0f} MHz ({peak['assumption']}; clock from "
        f"{peak['clock_source']}); measured {peak['measured_gflops']:.0f} GFLOP/s ({peak['measured_how']}; "
        f"{peak['measured_over_nominal']:.0%} of nominal)."
        + (" The measured rate is above the nominal peak: the cores run faster than the clock the kernel reports "
           "(boost), so the nominal peak is a lower bound and its column overstates the share; the measured peak is "
           "the one to read." if peak["measured_gflops"] > peak["nominal_gflops"] else ""),
        "* FLOPs are counted from the traced graph of each model's compiled train step "
        "(`benchmarks.flops.count_flops`: convolutions and matmuls by their shapes, 1 per element "
        "otherwise; ops TensorFlow prunes are left out); convolutions and matmuls are "
        f"{counts['none']['conv_matmul'] / counts['none']['total']:.1%} of `none`'s. TensorFlow's own registered "
        f"counts, summed over the op types that have one, give {counts['none']['tf_registry_flops'] / 1e9:,.1f} GFLOP "
        "for `none` (a cross-check: it has no count for the convolution gradients).",
    ]
    lines += ["", "**DAT at its floor.** DAT's unavoidable extra work per D step is one more D forward and one "
              "backward pass to the inputs, on reals and on fakes (both variants attack both batches):", "",
              "| variant | floor (FLOPs) / `none` | counted FLOPs / `none` | measured time / `none` | time above the "
              "floor |", "|---|---:|---:|---:|---:|"]
    for key in DAT_VARIANTS:
        f = d["floors"][key]
        t = res[key]["median_s"] / base
        lines.append(f"| `{f['variant']}` | {f['floor_ratio']:.3f}x | {f['counted_ratio']:.3f}x | {t:.3f}x | "
                     f"{t / f['floor_ratio'] - 1:+.1%} |")
    f = next(iter(d["floors"].values()))
    lines += ["", f"* Per D step on a batch of {f['batch_size']}: D forward {f['d_forward_flops'] / 1e9:.2f} GFLOP, "
                  f"input-gradient pass (forward and backward) {f['d_input_gradient_flops'] / 1e9:.2f} GFLOP; "
                  f"floor = `none` + n_dis ({f['n_dis']}) x 2 batches x the latter."]
    for key in ("none", "dat_reference"):
        prof = d["profiles"][key]
        lines += ["", f"**Profile of one iteration, `{key}`** (`benchmarks.flops.profile_step`, "
                      f"`tf.profiler`; wall {prof['wall_s_per_step']:.1f} s, op self time "
                      f"{prof['op_self_s_per_step']:.1f} s over the threads; top ten op types by self time):", "",
                  "| op type (kernel) | s / iteration | share of op time | count |", "|---|---:|---:|---:|"]
        for row in prof["by_type"]:
            lines.append(f"| `{row['op_type']}` | {row['s_per_step']:.2f} | {row['share']:.1%} | "
                         f"{row['count_per_step']:.0f} |")
        conv = sum(r["share"] for r in prof["by_type"] if "Conv" in r["op_type"])
        lines += ["", f"* Convolution kernels (forward and both gradients): {conv:.0%} of op time; they hold "
                      f"{counts[key]['conv_matmul'] / counts[key]['total']:.1%} of the FLOPs."]
    gpu = d["gpu"]
    lo, hi = gpu["utilisation"]
    lines += ["", f"**GPU on paper (a projection, not a measurement).** One {gpu['name']} (TF32 tensor cores "
                  f"{gpu['tf32_peak_tflops']:.0f} TFLOP/s dense peak; TensorFlow uses TF32 for float32 convolutions "
                  f"on Ampere) at {lo:.0%}-{hi:.0%} utilisation:", "",
              f"| path | GFLOP / iteration | s / iteration | one Table 2 run ({gpu['table2_iterations']:,} iterations) |",
              "|---|---:|---:|---:|"]
    for key in ("none", "dat_reference"):
        g = gflop[key]
        fast, slow = g / (gpu["tf32_peak_tflops"] * 1e3 * hi), g / (gpu["tf32_peak_tflops"] * 1e3 * lo)
        n = gpu["table2_iterations"]
        lines.append(f"| `{key}` | {g:,.0f} | {fast:.3f}-{slow:.3f} | {fast * n / 3600:.1f}-{slow * n / 3600:.1f} h |")
    lines += ["", f"* On this CPU at the measured rate the same run takes {res['none']['median_s'] * gpu['table2_iterations'] / 86400:.0f} "
                  f"days (`none`) and {res['dat_reference']['median_s'] * gpu['table2_iterations'] / 86400:.0f} days "
                  "(`dat`). Metric evaluations (Inception features, table 5) come on top."]
    return lines


def quality_verdict(cell, margin=QUALITY_MARGIN):
    """The digits verdict on mixed_bfloat16 (rule fixed before the runs; see ``QUALITY_MARGIN``).

    ``cell`` is :func:`dat_study.stats.paired` of bfloat16 (method) against float32 (baseline), lower is
    better: its interval is of ``float32 - bfloat16``, so ``bfloat16 - float32`` lies in ``(-high, -low)``.
    """
    low, high = cell.ci
    if not (math.isfinite(low) and math.isfinite(high)):
        return "undecided (fewer than 2 paired seeds)"
    bound = margin * cell.baseline_mean
    if -high > 0:
        return "worse"
    if -low <= bound:
        return "as good"
    return "undecided"


def _render_precision(d):
    from dat_study import stats

    res = d["results"]
    lines = ["| regularizer | float32 | mixed_bfloat16 | bfloat16 / float32 |", "|---|---:|---:|---:|"]
    for r in ("none", "dat"):
        f32, bf16 = res[f"{r}/float32"]["median_s"], res[f"{r}/mixed_bfloat16"]["median_s"]
        lines.append(f"| `{r}` | {_ms(f32)} | {_ms(bf16)} | **{bf16 / f32:.2f}x** |")
    lines += ["", f"* {_settings_line('sngan32', d['settings'])}; median of {d['rounds']} interleaved rounds of "
                  f"{d['steps']} step(s); `dat` is the paper's variant (the step table's)."]
    q = {(row["precision"], row["seed"]): row for row in d["quality"]}
    seeds = sorted({seed for _, seed in q})
    fid = {p: {seed: q[p, seed]["fid_train"] for seed in seeds} for p in PRECISIONS}
    cell = stats.paired(fid["mixed_bfloat16"], fid["float32"], lower_is_better=True)
    lines += ["", f"Quality on digits (`python bin/train.py --flagfile={d['quality_flagfile']}` with `--precision` "
                  "and `--seed` set; FID against the digits train split with the project's digits classifier, "
                  "2,000 samples):", "",
              "| seed | float32 FID | mixed_bfloat16 FID | bfloat16 - float32 |", "|---:|---:|---:|---:|"]
    for seed in seeds:
        a, b = fid["float32"][seed], fid["mixed_bfloat16"][seed]
        lines.append(f"| {seed} | {a:.2f} | {b:.2f} | {b - a:+.2f} |")
    low, high = cell.ci
    lines += ["", f"* Paired over {cell.n} seeds: bfloat16 - float32 = {-cell.effect:+.2f} FID, 95% interval "
                  f"[{-high:+.2f}, {-low:+.2f}], paired t p = {cell.p_t:.2g}. Rule (fixed before the runs): as good "
                  f"when the interval's upper end is at most {d['quality_margin']:.0%} of float32's mean FID "
                  f"({d['quality_margin'] * cell.baseline_mean:.2f}), worse when its lower end is above 0, else "
                  f"undecided. **Verdict: {quality_verdict(cell, d['quality_margin'])}.**"]
    return lines


def _render_peers(d):
    res, m, n_dis = d["results"], d["mimicry"], d["settings"]["n_dis"]
    none, peer = res["none"]["median_s"], res["mimicry"]["median_s"]
    rows = [("PyTorch torch-mimicry " + m.get("torch_mimicry", ""), "`SNGANDiscriminator32.train_step` x n_dis, "
             "`SNGANGenerator32.train_step`", "mimicry"),
            ("dat_tf", "`none`", "none"), ("dat_tf", "`dat`, `reference`", "dat_reference"),
            ("dat_tf", "`dat`, `paper`", "dat_paper")]
    lines = ["| framework | D step | s / iteration (median; min-max over rounds) | ratio |", "|---|---|---:|---|"]
    for framework, what, key in rows:
        r = res[key]
        span = f"{min(r['round_s']):.2f}-{max(r['round_s']):.2f}"
        if key == "mimicry":
            ratio = "-"
        elif key == "none":
            ratio = f"{r['median_s'] / peer:.2f}x mimicry"
        else:
            ratio = f"{r['median_s'] / none:.2f}x dat_tf `none`; {r['median_s'] / peer:.2f}x mimicry"
        lines.append(f"| {framework} | {what} | {r['median_s']:.2f} ({span}) | {ratio} |")
    lines += ["", f"* {_settings_line('sngan32', d['settings'])}; Adam 2e-4 (0, 0.9) both; {d['threads']} threads "
                  f"each (torch `set_num_threads`, TensorFlow's default pools); median of {d['rounds']} interleaved "
                  f"rounds of {d['steps']} iteration(s), each framework computing alone (the other waits).",
              f"* PyTorch {m.get('torch', '?')}, torch-mimicry {m.get('torch_mimicry', '?')}, from the virtual "
              "environment `--peers_venv` (`python benchmarks/peers.py --setup runs/peers-venv`: a CPU "
              "`torch==2.13.0` and `torch-mimicry==0.1.16` without its dependencies; only its nets are imported).",
              f"* Work per iteration, counted while mimicry runs: {m.get('d_forwards_per_iteration', '?')} D forwards "
              f"({m.get('d_forwards_per_d_step', '?')} per D step: reals and fakes separately, 1 in the G step), "
              f"{m.get('g_forwards_per_iteration', '?')} G forwards, {m.get('backwards_per_iteration', '?')} "
              f"backward passes, {m.get('input_gradient_passes_per_iteration', '?')} input-gradient passes. "
              f"dat_tf `none` runs the same passes (reals and fakes through D separately, {2 * n_dis + 1} D forwards); "
              "its `dat` adds, per D step, a D forward of reals and of fakes and one backward pass to those inputs "
              f"({4 * n_dis + 1} D forwards per iteration; the efficiency table gives DAT's floor)."]
    return lines


SECTIONS = {
    "step": ("1. Per-iteration time per regularizer (graph mode, ratio to `none`)", _render_step, [
        "One iteration = one `GAN.train_step`: `n_dis` discriminator updates and one generator update, run "
        "through the model's compiled train function (what `fit` runs; `tf.function`, no XLA, "
        "`steps_per_execution=1`, gradient-norm diagnostics off). For each net all six models are built first and "
        "then timed in interleaved rounds (A B C ... A B C ...) in one process, so load drift hits every "
        "regularizer alike; the cell is the median seconds per iteration over the rounds, the ratio is to `none` "
        "from the same rounds. Real data: one fixed random batch of `n_dis * batch` images.",
    ]),
    "xla": ("2. Graph mode vs XLA (`jit_compile`)", _render_xla, [
        "`TrainConfig(xla=True)` compiles the train step with XLA (`jit_compile=True`); otherwise the same as "
        "table 1. The four models of a net (none/dat x graph/XLA) are timed in interleaved rounds in one process. "
        "**XLA / graph** below 1 means XLA is faster. The first-call columns hold tracing (and XLA compilation) "
        "plus the warm-up steps.",
    ]),
    "replicas": ("3. One vs two replicas (`MirroredStrategy` over 2 logical CPU devices)", _render_replicas, [
        "One fresh process splits the CPU into 2 logical devices before TensorFlow starts "
        "(`TrainConfig(strategy=\"mirrored\", num_devices=2)`), then builds both the 2-replica models and 1-replica "
        "models (`strategy=\"default\"`, i.e. `/cpu:0` of the same process) and times all four in interleaved "
        "rounds. Same global batch: each replica gets half. Both logical devices share the same physical cores "
        "and thread pools, so this measures the overhead (or gain) of replication and its all-reduces on one "
        "host, not a speed-up from more hardware.",
    ]),
    "memory": ("4. Peak memory per (net, regularizer): host RSS on CPU", _render_memory, [
        "**Host RSS on CPU**, not accelerator memory. Each configuration runs in its own fresh process: import "
        "TensorFlow/Keras/dat_tf, start the runtime, read the RSS (baseline), build the model and run a few train "
        "steps, then read the peak RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`). The cell is peak minus "
        "baseline, and its ratio to `none`. It includes weights, optimizer state, tracing the graph, TensorFlow's "
        "and oneDNN's buffers and allocator caching, so it is an upper bound on the model's working set.",
    ]),
    "eval": ("5. Evaluation cost: classifier features per 1k images", _render_eval, [
        "Features and logits through `dat_tf.metrics.compute_activations` (the classifier runs inside a "
        "`tf.function`) on random images already at the network's input size (no resizing), after one untimed "
        "batch. The InceptionV3 is `keras.applications.InceptionV3(weights=None, include_top=True)` at "
        "299x299x3 (random weights: same cost as the trained one; FID's TF-GAN Inception graph has a similar "
        "but not identical cost). It is timed on a few dozen images and **extrapolated linearly** to 1k and 50k; "
        "the digits classifier is timed on thousands of images (its 50k column is extrapolated too).",
    ]),
    "efficiency": ("7. The command line's path, FLOPs against the machine, profile and DAT's floor (SNGAN-32)",
                   _render_efficiency, [
        "SNGAN-32 as in the paper's Table 1 (mimicry's widths, batch 64, n_dis 5, hinge): seconds per iteration on "
        "the benchmark path (table 1's) and on the path `bin/train.py` runs, side by side; FLOPs per iteration "
        "counted from the graph; the achieved rate against this machine's fp32 peak; where the time goes; how far "
        "DAT is above the least work it must do; and what a GPU would take, on paper.",
    ]),
    "precision": ("8. bfloat16 on this CPU (`--precision=mixed_bfloat16`)", _render_precision, [
        "The CPU has AVX-512 BF16. `TrainConfig(precision=\"mixed_bfloat16\")` (Keras' dtype policy: bfloat16 "
        "compute, float32 variables) against float32, SNGAN-32 `none` and `dat` timed side by side in one process; "
        "then the quality check: the digits example trained in both precisions over the same seeds.",
    ]),
    "peers": ("9. Against the PyTorch peer: torch-mimicry's SNGAN-32 (`--peers`)", _render_peers, [
        "Optional (not in the default run, not in CI): `python benchmarks/run_all.py --peers` sets up a separate "
        "PyTorch virtual environment under `runs/` once and times mimicry's own `train_step`s in a worker process "
        "(`benchmarks/peers.py`), interleaved round by round with dat_tf's models in the table's process: one "
        "computes while the other waits on a pipe.",
    ]),
    "pipeline": ("6. Input pipeline: images per second against what an iteration consumes", _render_pipeline, [
        "The training input pipeline alone (`dat_tf.data.images.image_dataset`, as `bin/train.py` builds it: "
        "preprocessing, in-memory cache, shuffle, batches of `n_dis x batch`, prefetch) on tfds's mock CIFAR-10 "
        "and STL-10, pulled as fast as it goes in one fresh process, no model.",
    ]),
}


def render(run, results):
    m = run["machine"]
    lines = [
        "# dat_tf benchmarks",
        "",
        "Generated by `python benchmarks/run_all.py` (do not edit by hand; raw numbers in "
        "[results.json](results.json)). Measuring code: "
        "[benchmarks/harness.py](../benchmarks/harness.py) (`make_runner`, `interleaved`), used by "
        "[run_all.py](run_all.py) and [step_time.py](step_time.py).",
        "",
    ]
    if any(results.get(t, {}).get("quick") for t in TABLES):
        lines += ["> **QUICK RUN.** Some or all tables below come from `--quick` (shrunken nets, 1-2 rounds): they "
                  "only show that the script works. Regenerate with `python benchmarks/run_all.py` on a quiet "
                  "machine before quoting any number.", ""]
    lines += [
        f"* **Machine:** {_machine_line(m)}.",
        "* **Device:** CPU only (the worker processes run with `CUDA_VISIBLE_DEVICES=-1`); TensorFlow's default "
        "thread pools (all cores), float32.",
        f"* **Last command:** `{run['command']}` on {run['date']}; tables run: {', '.join(run['tables_run'])}; "
        f"total wall time {run['wall_s']:.0f} s ({run['wall_s'] / 60:.1f} min).",
        "* **Regenerate everything:** `python benchmarks/run_all.py` (on a quiet machine: the timing tables are "
        "ratios measured side by side, but heavy background load still adds noise). Smoke test: "
        "`python benchmarks/run_all.py --quick`. One table: `--tables=xla` (others are kept from results.json).",
        "",
        "Wall time per table: " + "; ".join(
            f"{t} {results[t]['wall_s']:.0f} s" for t in TABLES if t in results) + ".",
        "",
    ]
    for table in TABLES:
        title, fn, intro = SECTIONS[table]
        lines += [f"## {title}", ""]
        entry = results.get(table)
        if entry is None:
            lines += ["Not measured yet: `python benchmarks/run_all.py --tables=" + table + "`.", ""]
            continue
        lines += intro + [""] + _provenance(entry, m) + [""]
        if "error" in entry:
            lines += ["**FAILED:**", "", "```", entry["error"][-2500:], "```", ""]
            continue
        lines += fn(entry["data"]) + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
