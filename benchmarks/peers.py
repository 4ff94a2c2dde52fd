#!/usr/bin/env python
"""The PyTorch peer of the step-time benchmark: torch-mimicry's SNGAN-32, timed in its own process.

dat_tf is compared with the PyTorch code most GAN papers build on, measured on the same machine in
the same run. The peer lives in a separate virtual environment (a CPU ``torch`` and
``torch-mimicry`` without its dependencies, no TensorFlow), so this module is used three ways:

* **Setup**, under the project's Python: :func:`ensure_venv` creates the environment once and
  reuses it after (a marker file records the versions)::

      python benchmarks/peers.py --setup runs/peers-venv

* **Worker**, under the environment's Python: builds mimicry's ``SNGANGenerator32`` /
  ``SNGANDiscriminator32`` (ngf 256, ndf 128, nz 128; hinge; Adam 2e-4, betas (0, 0.9); batch 64;
  n_dis 5) and times iterations on command, so a controller can interleave it with a TensorFlow
  process (only one of them computes at a time)::

      runs/peers-venv/bin/python benchmarks/peers.py --worker --threads 2

  It prints one JSON line ``{"ready": true, ...}`` (build time, versions, and the work mimicry's
  steps do, counted while running them), then answers each stdin line ``run K`` with
  ``{"seconds_per_iteration": s, "last_d_loss": x}``; ``quit`` (or end of input) exits 0.
  Nothing else goes to stdout; logs go to stderr.

* **Controller**, under the project's Python: :class:`PeerProcess` starts a worker and drives it::

      with PeerProcess("runs/peers-venv/bin/python", threads=2) as peer:
          print(peer.ready["d_forwards_per_iteration"], peer.run(3))

One iteration is what mimicry's ``Trainer.train`` does per generator step: ``n_dis`` calls of the
discriminator's own ``train_step`` (each on a fresh real batch), then the generator's own
``train_step``; we time mimicry's code, not a re-implementation. The trainer's data loading,
logging and learning-rate scheduler (a no-op without decay) are left out, as dat_tf's benchmark
leaves out its own.

This file imports only the standard library at the top: the project's Python has no torch and the
environment's has no TensorFlow.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

TORCH_VERSION = "2.13.0"
MIMICRY_VERSION = "0.1.16"
# torch-mimicry is installed with --no-deps (its requirements name TensorFlow, torchvision, ...).
# Its nets need only torch and numpy: torch_mimicry/nets/__init__.py imports every GAN family, and
# nets/ssgan/ssgan_base.py imports numpy.
EXTRA_PACKAGES = ("numpy",)
MARKER = "dat_tf_peers.json"
DEFAULT_VENV = os.path.join("runs", "peers-venv")
VENV_ENV_VAR = "DAT_TF_PEERS_VENV"

BATCH_SIZE = 64
N_DIS = 5
NZ, NGF, NDF = 128, 256, 128
LR, BETAS = 2e-4, (0.0, 0.9)


class PeerError(RuntimeError):
    """The peer environment could not be set up, or its worker failed."""


# ----------------------------------------------------------------------------------------------
# Setup


def _marker_contents() -> dict:
    return {
        "torch": TORCH_VERSION,
        "torch_mimicry": MIMICRY_VERSION,
        "extras": list(EXTRA_PACKAGES),
        "python": "%d.%d" % sys.version_info[:2],
    }


def venv_python(path: str) -> str:
    """The Python executable of the virtual environment at ``path`` (it may not exist yet)."""
    if os.name == "nt":  # pragma: no cover - the project runs on Linux
        return os.path.join(path, "Scripts", "python.exe")
    return os.path.join(path, "bin", "python")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run_step(cmd, what: str, log) -> None:
    log(f"peers: {what}: {' '.join(cmd)}")
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        raise PeerError(f"{what} failed: cannot run {cmd[0]!r}: {e}") from None
    if done.returncode != 0:
        raise PeerError(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{_tail(done.stdout)}")


def ensure_venv(path: str = DEFAULT_VENV, *, log=None) -> str:
    """Create (or reuse) the peer's virtual environment at ``path``; returns its Python.

    Installs ``torch==2.13.0`` (pinned exactly: a range or plain ``torch`` can pull a multi-GB
    CUDA build), ``torch-mimicry==0.1.16`` with ``--no-deps`` (its declared requirements include
    TensorFlow and torchvision, none of which its nets use), and numpy (the nets import it).
    Idempotent: a marker file with those versions, written last, makes later calls return at once;
    an environment without a matching marker (an older pin or an interrupted install) is rebuilt.
    A directory at ``path`` that is not a virtual environment is refused, never deleted.

    Args:
      path: where the environment goes, e.g. ``runs/peers-venv`` (git-ignored).
      log: called with one line per step; defaults to printing on stderr.

    Raises:
      PeerError: naming the command or package that failed, with the tail of its output.

    Example:
      >>> python = ensure_venv("runs/peers-venv")   # doctest: +SKIP
    """
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    path = os.path.abspath(path)
    python = venv_python(path)
    marker = os.path.join(path, MARKER)
    want = _marker_contents()
    try:
        with open(marker) as f:
            have = json.load(f)
    except (OSError, ValueError):
        have = None
    if have == want and os.path.exists(python):
        return python

    if os.path.exists(path):
        is_venv = os.path.isfile(os.path.join(path, "pyvenv.cfg"))
        if not os.path.isdir(path) or (os.listdir(path) and not is_venv):
            raise PeerError(f"{path} exists and is not a virtual environment: remove it or pass another path")
        log(f"peers: rebuilding {path} (marker {have!r}, want {want!r})")
        shutil.rmtree(path)
    _run_step([sys.executable, "-m", "venv", path], "python -m venv", log)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    _run_step(pip + [f"torch=={TORCH_VERSION}"], f"pip install torch=={TORCH_VERSION}", log)
    _run_step(pip + ["--no-deps", f"torch-mimicry=={MIMICRY_VERSION}"],
              f"pip install --no-deps torch-mimicry=={MIMICRY_VERSION}", log)
    _run_step(pip + list(EXTRA_PACKAGES), "pip install " + " ".join(EXTRA_PACKAGES), log)
    # The worker's own import path, without building anything: fails here rather than at run time.
    _run_step([python, os.path.abspath(__file__), "--check"], "import check of mimicry's nets", log)
    with open(marker, "w") as f:
        json.dump(want, f, indent=1)
    return python


# ----------------------------------------------------------------------------------------------
# Worker (runs inside the peer environment: torch, no TensorFlow)


def _import_mimicry():
    """Import mimicry's SNGAN-32 module and its MetricLog without torch_mimicry/__init__.py.

    The package's top-level ``__init__`` imports ``training``, ``metrics`` and ``datasets``, which
    need TensorFlow, torchvision, tensorboard, scipy, ... (not installed). So we put an empty
    stand-in for the top-level package in ``sys.modules`` whose ``__path__`` is the installed
    package folder: ``torch_mimicry.nets`` and ``torch_mimicry.modules`` (torch and numpy only) then
    import from their real files as usual. ``MetricLog`` (pure Python, no imports) is loaded
    straight from ``training/metric_log.py``, since ``training/__init__`` pulls in the trainer.

    Returns:
      (sngan_32 module, MetricLog class, installed torch-mimicry version)
    """
    import importlib
    import importlib.metadata
    import importlib.util
    import types

    loaded = sys.modules.get("torch_mimicry")
    if loaded is not None and getattr(loaded, "__path__", None):  # imported before (our stand-in): reuse it
        folder = list(loaded.__path__)[0]
    else:
        spec = importlib.util.find_spec("torch_mimicry")
        if spec is None or not spec.submodule_search_locations:
            raise PeerError("torch_mimicry is not installed in this Python (" + sys.executable + ")")
        folder = list(spec.submodule_search_locations)[0]
    if "torch_mimicry" not in sys.modules:
        stand_in = types.ModuleType("torch_mimicry")
        stand_in.__path__ = [folder]
        stand_in.__file__ = None
        sys.modules["torch_mimicry"] = stand_in
    sngan_32 = importlib.import_module("torch_mimicry.nets.sngan.sngan_32")
    ml_spec = importlib.util.spec_from_file_location(
        "torch_mimicry_metric_log", os.path.join(folder, "training", "metric_log.py"))
    metric_log = importlib.util.module_from_spec(ml_spec)
    ml_spec.loader.exec_module(metric_log)
    return sngan_32, metric_log.MetricLog, importlib.metadata.version("torch-mimicry")


class _Counter:
    """Counts net forwards and backward / input-gradient passes while active (``with counter:``).

    mimicry calls ``self.forward(...)`` directly (no module hooks fire), so each net's ``forward``
    is shadowed by a counting wrapper on the instance, and ``Tensor.backward`` /
    ``torch.autograd.grad`` are wrapped; all of it only inside the ``with``, so timed iterations
    run unpatched.
    """

    def __init__(self, torch, nets):
        self.torch, self.nets = torch, nets
        self.counts = collections.Counter()

    def __enter__(self):
        torch, counts = self.torch, self.counts
        counts.clear()
        self._backward, self._grad = torch.Tensor.backward, torch.autograd.grad
        backward, grad = self._backward, self._grad

        def counting_backward(tensor, *args, **kwargs):
            counts["backwards"] += 1
            return backward(tensor, *args, **kwargs)

        def counting_grad(*args, **kwargs):
            counts["input_gradient_passes"] += 1
            return grad(*args, **kwargs)

        def counting_forward(name, forward):
            def wrapped(*args, **kwargs):
                counts[f"{name}_forwards"] += 1
                return forward(*args, **kwargs)
            return wrapped

        torch.Tensor.backward, torch.autograd.grad = counting_backward, counting_grad
        for name, net in self.nets.items():
            net.zero_grad(set_to_none=True)
            net.forward = counting_forward(name, net.forward)
        return self

    def __exit__(self, *exc):
        self.torch.Tensor.backward, self.torch.autograd.grad = self._backward, self._grad
        for net in self.nets.values():
            del net.forward  # back to the class's forward
        return False

    def summary(self) -> dict:
        out = {k: self.counts.get(k, 0) for k in ("D_forwards", "G_forwards", "backwards", "input_gradient_passes")}
        # Which nets' parameters a backward reached (grads were cleared on entry).
        out["backward_reaches"] = [name for name, net in self.nets.items()
                                   if any(p.grad is not None for p in net.parameters())]
        return out


class Worker:
    """mimicry's SNGAN-32 pair with its optimizers and a fixed pool of real images.

    Args:
      threads: intra-op threads (``torch.set_num_threads``); inter-op threads are 1.
      seed: torch seed for the weights, the real images and the latents.
      batch_size, n_dis: the benchmark's 64 and 5; smaller values only for quick checks.
    """

    def __init__(self, threads: int = 2, seed: int = 0, batch_size: int = BATCH_SIZE, n_dis: int = N_DIS):
        start = time.perf_counter()
        import torch

        self.torch = torch
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # pragma: no cover - only settable before the first parallel work
            pass
        torch.manual_seed(seed)
        sngan_32, self.MetricLog, self.mimicry_version = _import_mimicry()
        self.device = torch.device("cpu")
        self.netG = sngan_32.SNGANGenerator32(nz=NZ, ngf=NGF).to(self.device)
        self.netD = sngan_32.SNGANDiscriminator32(ndf=NDF).to(self.device)
        self.netG.train()
        self.netD.train()
        self.optG = torch.optim.Adam(self.netG.parameters(), LR, betas=BETAS)
        self.optD = torch.optim.Adam(self.netD.parameters(), LR, betas=BETAS)
        # n_dis * batch_size images in [-1, 1]: every D step of an iteration sees its own reals.
        pool = torch.rand((n_dis * batch_size, 3, 32, 32)) * 2.0 - 1.0
        labels = torch.zeros(n_dis * batch_size, dtype=torch.long)
        self.batches = [(pool[i * batch_size:(i + 1) * batch_size], labels[i * batch_size:(i + 1) * batch_size])
                        for i in range(n_dis)]
        self.threads, self.seed, self.batch_size, self.n_dis = threads, seed, batch_size, n_dis
        self.global_step = 0
        self.build_s = time.perf_counter() - start

    def d_step(self, log_data, real_batch):
        return self.netD.train_step(real_batch=real_batch, netG=self.netG, optD=self.optD, log_data=log_data,
                                    global_step=self.global_step, device=self.device)

    def g_step(self, log_data, real_batch):
        return self.netG.train_step(real_batch=real_batch, netD=self.netD, optG=self.optG, log_data=log_data,
                                    global_step=self.global_step, device=self.device)

    def iteration(self) -> float:
        """One generator iteration as mimicry's ``Trainer.train`` runs it; returns the last D loss."""
        log_data = self.MetricLog()
        for i in range(self.n_dis):
            log_data = self.d_step(log_data, self.batches[i])
            if i == self.n_dis - 1:
                log_data = self.g_step(log_data, self.batches[i])
        self.global_step += 1
        return float(log_data.metrics_dict["errD"]["value"])

    def count_work(self) -> dict:
        """Run one D step and one G step (a warm-up too) with counting on; per-step and per-iteration counts."""
        counter = _Counter(self.torch, {"D": self.netD, "G": self.netG})
        with counter:
            self.d_step(self.MetricLog(), self.batches[0])
        d = counter.summary()
        with counter:
            self.g_step(self.MetricLog(), self.batches[0])
        g = counter.summary()
        n = self.n_dis
        return {
            "d_step": d,
            "g_step": g,
            "d_forwards_per_d_step": d["D_forwards"],
            "d_forwards_per_iteration": n * d["D_forwards"] + g["D_forwards"],
            "g_forwards_per_iteration": n * d["G_forwards"] + g["G_forwards"],
            "backwards_per_iteration": n * d["backwards"] + g["backwards"],
            "input_gradient_passes_per_iteration": n * d["input_gradient_passes"] + g["input_gradient_passes"],
        }

    def ready_line(self, counts: dict) -> dict:
        torch = self.torch
        return {
            "ready": True,
            "build_s": round(self.build_s, 3),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "torch_mimicry": self.mimicry_version,
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "seed": self.seed,
            "batch_size": self.batch_size,
            "n_dis": self.n_dis,
            "nz": NZ, "ngf": NGF, "ndf": NDF,
            "loss": self.netD.loss_type,
            "optimizer": f"Adam lr {LR} betas {BETAS}",
            **counts,
        }


def _serve(worker: Worker, counts: dict, out, inp) -> int:
    def say(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    say(worker.ready_line(counts))
    for line in inp:
        words = line.split()
        if words == ["quit"]:
            return 0
        if len(words) == 2 and words[0] == "run" and words[1].isdigit() and int(words[1]) >= 1:
            k = int(words[1])
            start = time.perf_counter()
            loss = float("nan")
            for _ in range(k):
                loss = worker.iteration()
            seconds = (time.perf_counter() - start) / k
            say({"seconds_per_iteration": seconds, "last_d_loss": loss if math.isfinite(loss) else None})
            print(f"peers worker: run {k}: {seconds:.3f} s/iteration, d loss {loss:.4f}", file=sys.stderr, flush=True)
            continue
        if not words:
            continue
        say({"error": f"unknown command {line.strip()!r}: expected 'run K' (K >= 1) or 'quit'"})
    return 0


def worker_main(args) -> int:
    # The protocol owns the real stdout; anything else printed (by us, torch or mimicry) goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    worker = Worker(threads=args.threads, seed=args.seed, batch_size=args.batch_size, n_dis=args.n_dis)
    counts = worker.count_work()
    print(f"peers worker: built in {worker.build_s:.1f} s; {json.dumps(counts)}", file=sys.stderr, flush=True)
    return _serve(worker, counts, out, sys.stdin)


# ----------------------------------------------------------------------------------------------
# Controller (runs under the project's Python)


class PeerProcess:
    """A running peer worker: start it, wait for its ready line, time ``run(k)``, ``close()``.

    Args:
      python: the peer environment's Python (``venv_python("runs/peers-venv")``).
      threads: the worker's ``--threads``; seed: its ``--seed``.
      batch_size, n_dis: the worker's, when not the benchmark's 64 and 5 (quick checks only).
      script: the worker script (this file unless a test stands in for it).
      ready_timeout, run_timeout: seconds to wait for the ready line / one ``run`` answer (None: forever).

    Raises:
      PeerError: the worker died or answered with an error; the message carries its stderr tail.

    Example:
      >>> with PeerProcess(venv_python("runs/peers-venv"), threads=2) as peer:   # doctest: +SKIP
      ...     peer.run(1)   # warm-up
      ...     seconds = peer.run(3)
    """

    def __init__(self, python: str, threads: int = 2, seed: int = 0, *, batch_size: int | None = None,
                 n_dis: int | None = None, script: str | None = None, ready_timeout: float | None = 900.0,
                 run_timeout: float | None = None):
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        if not os.path.exists(python):
            raise PeerError(f"peer Python {python} does not exist: create the environment with "
                            f"python benchmarks/peers.py --setup {DEFAULT_VENV}")
        cmd = [python, script or os.path.abspath(__file__), "--worker", f"--threads={threads}", f"--seed={seed}"]
        if batch_size is not None:
            cmd.append(f"--batch-size={batch_size}")
        if n_dis is not None:
            cmd.append(f"--n-dis={n_dis}")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        self.command = cmd
        self.run_timeout = run_timeout
        self.last = None
        self._stderr = collections.deque(maxlen=40)
        self._lines = queue.Queue()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, bufsize=1, env=env)
        threading.Thread(target=self._pump, args=(self._proc.stdout, self._lines.put, True),
                         daemon=True).start()
        self._err_thread = threading.Thread(target=self._pump, args=(self._proc.stderr, self._stderr.append),
                                            daemon=True)
        self._err_thread.start()
        try:
            self.ready = self._answer("the ready line", ready_timeout)
            if self.ready.get("ready") is not True:
                raise self._error(f"expected the ready line first, got {self.ready!r}")
        except BaseException:
            self._kill()
            raise

    @staticmethod
    def _pump(stream, put, end=False):
        for line in stream:
            put(line.rstrip("\n"))
        if end:
            put(None)  # end of stdout: the worker has exited (or closed it)

    def stderr_tail(self) -> str:
        return "\n".join(self._stderr)

    def _error(self, what: str) -> PeerError:
        if self._proc.poll() is not None:
            self._err_thread.join(timeout=5)  # the whole of stderr, now that the worker is gone
        tail = self.stderr_tail() or "(empty)"
        return PeerError(f"peer worker {what}; command: {' '.join(self.command)}\nworker stderr (tail):\n{tail}")

    def _answer(self, what: str, timeout: float | None) -> dict:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise self._error(f"did not give {what} within {timeout} s") from None
        if line is None:
            code = self._proc.wait()
            raise self._error(f"exited with code {code} before {what}")
        try:
            answer = json.loads(line)
        except ValueError:
            raise self._error(f"wrote a non-JSON line to stdout instead of {what}: {line[:200]!r}") from None
        if not isinstance(answer, dict):
            raise self._error(f"wrote {line[:200]!r} instead of {what}")
        if "error" in answer:
            raise self._error(f"answered an error: {answer['error']}")
        return answer

    def run(self, k: int) -> float:
        """Run ``k`` iterations in the worker; returns its seconds per iteration (answer in ``self.last``)."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        if self._proc.poll() is not None:
            raise self._error(f"has exited (code {self._proc.returncode})")
        try:
            self._proc.stdin.write(f"run {k}\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._error(f"closed its input (code {self._proc.wait()})") from None
        self.last = self._answer(f"an answer to 'run {k}'", self.run_timeout)
        if "seconds_per_iteration" not in self.last:
            raise self._error(f"answered 'run {k}' without seconds_per_iteration: {self.last!r}")
        return float(self.last["seconds_per_iteration"])

    def close(self, timeout: float = 30.0) -> int:
        """Ask the worker to quit; kill it if it has not within ``timeout`` s. Returns its exit code."""
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write("quit\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        for stream in (self._proc.stdin,):
            try:
                stream.close()
            except OSError:
                pass
        return self._proc.returncode

    def _kill(self):
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ----------------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--setup", metavar="PATH", help=f"create or reuse the peer environment (e.g. {DEFAULT_VENV})")
    mode.add_argument("--worker", action="store_true", help="serve the timing protocol (inside the environment)")
    mode.add_argument("--check", action="store_true", help="import mimicry's nets and exit (inside the environment)")
    parser.add_argument("--threads", type=_positive_int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="torch seed (default 0)")
    parser.add_argument("--batch-size", type=_positive_int, default=BATCH_SIZE, help="default 64")
    parser.add_argument("--n-dis", type=_positive_int, default=N_DIS, help="D steps per G step (default 5)")
    args = parser.parse_args(argv)
    try:
        if args.setup:
            print(ensure_venv(args.setup))
            return 0
        if args.check:
            sngan_32, _, version = _import_mimicry()
            if version != MIMICRY_VERSION:
                raise PeerError(f"torch-mimicry {version} is installed, want {MIMICRY_VERSION}")
            print(f"torch-mimicry {version}: {sngan_32.SNGANGenerator32.__name__}, "
                  f"{sngan_32.SNGANDiscriminator32.__name__} importable", file=sys.stderr)
            return 0
        return worker_main(args)
    except PeerError as e:
        print(f"peers: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
