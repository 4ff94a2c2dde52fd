#!/usr/bin/env python
"""Regenerates ``benchmarks/README.md``: every benchmark table of ``dat_tf`` in one command.

    python benchmarks/run_all.py                   # all tables (tens of minutes on 2 CPU cores)
    python benchmarks/run_all.py --quick           # smoke test: shrunken nets, 2 rounds (a few minutes)
    python benchmarks/run_all.py --tables=xla,eval # only these tables; the others are kept from results.json

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

Every table runs in fresh subprocesses (this script with ``--worker=<table>``):
one per net for ``step`` and ``xla``, one per configuration for ``memory``, one
each for ``replicas`` and ``eval``.  The timing code, and the step table's
nets, rounds and steps, are :mod:`dat_tf.experiments.cost`'s (``make_runner``,
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

from dat_tf.experiments import cost  # noqa: E402

TABLES = ("step", "xla", "replicas", "memory", "eval", "pipeline")
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
    p.add_argument("--tables", default=",".join(TABLES), help=f"Comma-separated subset of {','.join(TABLES)}.")
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


def _vmrss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


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
    import resource

    import tensorflow as tf  # already imported with dat_tf (cost)

    tf.constant(0.0).numpy()  # start the runtime: part of the baseline, not of the model's cost
    base_kb = _vmrss_kb()
    base_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    net, reg = args.net, args.regularizer
    steps = 1 if args.quick else MEMORY_STEPS[net]
    cfg = cost.gan_config(net, reg, **_overrides(args, net))
    runner = cost.make_runner(cfg, warmup=steps)
    _KEEP_ALIVE.append(runner)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"net": net, "regularizer": reg, "steps": steps, "settings": cost.net_settings(cfg), "base_mib": base_kb / 1024,
            "import_peak_mib": base_peak_kb / 1024, "peak_mib": peak_kb / 1024, "delta_mib": (peak_kb - base_kb) / 1024,
            "end_mib": _vmrss_kb() / 1024, "wall_s": runner.build_s + runner.warmup_s, "versions": cost.versions()}


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


WORKERS = {"step": worker_step, "xla": worker_xla, "replicas": worker_replicas, "memory": worker_memory,
           "eval": worker_eval, "pipeline": worker_pipeline}


# ------------------------------------------------------------- orchestration


def _pass_through(args):
    flags = ["--nets", args.nets, "--regularizers", args.regularizers]
    for name in ("rounds", "steps", "digits_images", "inception_images", "eval_repeats", "pipeline_examples"):
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
    tables = _csv(args.tables)
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise SystemExit(f"--tables: unknown {unknown}; expected a subset of {list(TABLES)}")
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
        "[dat_tf/experiments/cost.py](../dat_tf/experiments/cost.py) (`make_runner`, `interleaved`), used by "
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
