"""The README is the documentation users follow: its Python block and every command of its bash blocks run here.

Each command of a ```bash block (lines split at ``&&``, ``#`` comments dropped) must have an entry in
:data:`CHECKS` saying how it is checked, and every entry must still be in the README, so a command added to
or changed in the README without a check fails :func:`test_every_readme_command_is_checked`.
:func:`test_readme_commands_run_as_written` then runs them in README order, as written, in a scratch folder
holding links to ``bin/``, ``configs/``, ``dat_tf/`` and ``dat_study/`` (so ``runs/`` is written there, never into
the repository), offline by construction: an empty tfds data folder and TF-Hub cache, so the commands that need
CIFAR-10 or the Inception network reach that point and must fail fast with exit code 4 and say what to get.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Callable

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINKED = ("bin", "configs", "dat_tf", "dat_study")  # what the README's commands read, linked into the scratch folder
EXIT_NOT_AVAILABLE = 4  # a dataset or model weights the command needs is not on this machine


def _readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", _readme(), flags=re.S)


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)```", _readme(), flags=re.S)


def _norm(command: str) -> str:
    """One canonical spelling of a shell command (quoting and spacing normalised, comments dropped)."""
    return shlex.join(shlex.split(command, comments=True))


def _bash_commands() -> list[str]:
    """Every command of the README's bash blocks, in order; ``a && b`` gives two commands."""
    commands = []
    for block in _bash_blocks():
        for line in block.replace("\\\n", " ").splitlines():
            part = []
            for word in shlex.split(line, comments=True) + ["&&"]:
                if word != "&&":
                    part.append(word)
                elif part:
                    commands.append(shlex.join(part))
                    part = []
    return commands


# ----------------------------------------------------------------------------- how each command is checked


@dataclasses.dataclass(frozen=True)
class Skip:
    """Not run here, for ``reason`` (covered elsewhere)."""

    reason: str


@dataclasses.dataclass(frozen=True)
class Run:
    """Run as written (plus ``extra`` flags, only where ``why_extra`` says so); expect ``code``, then ``verify``."""

    code: int
    verify: Callable  # (proc, cwd) -> None, asserts
    before: Callable | None = None  # (cwd) -> None: what a user would already have (stated where used)
    extra: tuple = ()
    why_extra: str = ""
    max_seconds: float = 300.0


@dataclasses.dataclass(frozen=True)
class Serve:
    """A server: started as written (plus ``extra``: a free local port), must serve ``tag`` within a minute."""

    extra: tuple
    why_extra: str
    tag: str


def _files(cwd, *paths):
    missing = [p for p in paths if not os.path.exists(os.path.join(cwd, p))]
    assert not missing, f"not written: {missing}"


def _no_traceback(proc):
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def _error_paragraph(proc):
    """The stderr from the first ``error:`` on (TensorFlow's start-up lines may precede it)."""
    assert "error: " in proc.stderr, proc.stderr[-3000:]
    return proc.stderr[proc.stderr.index("error: "):]


def _figure3(proc, cwd):
    _files(cwd, *(f"runs/figure3/figure3.{ext}" for ext in ("png", "md", "json")))
    assert "wrote runs/figure3/figure3.png, runs/figure3/figure3.md, runs/figure3/figure3.json" in proc.stdout
    with open(os.path.join(cwd, "runs/figure3/figure3.json")) as f:
        result = json.load(f)
    # both readings of the paper's "variance 0.1", the separated one (std 0.1) first, as the figure draws them
    assert [round(r["std"], 3) for r in result["readings"]] == [0.1, 0.316]
    for reading in result["readings"]:
        rows = {(r["mixture"], r["method"], r["step"]) for r in reading["table"]}
        assert rows == {(m, method, s) for m in ("balanced", "imbalanced") for method in ("none", "dat")
                        for s in (100, 200, 300)}
        assert all(0 <= r["modes_covered"]["mean"] <= 9 for r in reading["table"])
    # a line per finished run with the time left (the main job is not silent for minutes)
    progress = [line for line in proc.stdout.splitlines() if line.startswith("figure3: ") and " finished; " in line]
    assert len(progress) == 8 and progress[-1].endswith("8/8 done, " + progress[-1].split("8/8 done, ")[1])
    assert all(re.search(r"\d+/8 done, [\d.]+ min elapsed, about [\d.]+ min left$", line) for line in progress)


def _cifar10_data_missing(proc, cwd):
    err = _error_paragraph(proc)
    assert "cifar10" in err and "--download" in err and "--data_dir" in err, err
    _no_traceback(proc)


def _trained(run_dir, steps):
    def verify(proc, cwd):
        _files(cwd, f"{run_dir}/config.json", f"{run_dir}/generator.keras", f"{run_dir}/generator_savedmodel")
        assert f"finished {steps} generator steps in {run_dir}" in proc.stdout, proc.stdout[-2000:]

    return verify


def _toy_samples(proc, cwd):
    with open(os.path.join(cwd, "runs/toy_dat/samples.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    samples = np.load(os.path.join(cwd, "runs/toy_dat/samples.npz"))["samples"]
    assert samples.shape == (64, 2) and np.all(np.isfinite(samples))
    assert "wrote runs/toy_dat/samples.png and runs/toy_dat/samples.npz" in proc.stdout


def _digits_metrics(proc, cwd):
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["metric"] for r in rows] == ["fid_train", "kid_train", "fid_test", "kid_test", "is"]
    assert all(r["dataset"] == "digits" and r["classifier"] == "digits" and r["seeds"] == [0, 1, 2] for r in rows)
    assert all(np.isfinite(r["mean"]) for r in rows) and rows[0]["mean"] > 0


def _tiny_cifar_generator(cwd):
    """What a finished SNGAN-DAT run leaves, in miniature (the 100k-step run cannot be made here)."""
    from dat_tf.nets import dcgan_generator

    path = os.path.join(cwd, "runs", "sngan_cifar10_dat", "generator.keras")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    dcgan_generator(latent_dim=8, resolution=32, channels=3, width=4).save(path)


def _cifar10_inception_missing(proc, cwd):
    err = _error_paragraph(proc)
    assert err.startswith("error: Dataset 'cifar10'"), err
    for advice in ("--data_dir=DIR", "--download", "--inception_path", "$TFHUB_CACHE_DIR"):
        assert advice in err, advice
    assert proc.stdout.strip() == ""
    _no_traceback(proc)


CHECKS = {
    "pip install -e .": Skip("installs the package: .ci/run installs it in a fresh venv and runs the suite"),
    "python bin/figure3.py": Run(
        0, _figure3, extra=("--seeds=0", "--checkpoints=100,200,300"),
        why_extra="the full run takes minutes; one seed and three early checkpoints write the same three files",
    ),
    'pip install -e ".[test]"': Skip("installs the test extras: .ci/run does (test_readme_setup_commands_match_ci)"),
    "python -m pytest -q -n 2 --dist loadfile tests": Skip("the test suite itself: .ci/run runs it (test_readme_setup_commands_match_ci)"),
    "python bin/train.py --flagfile=configs/sngan_cifar10_dat.flags": Run(
        EXIT_NOT_AVAILABLE, _cifar10_data_missing, max_seconds=60,
    ),
    "python bin/train.py --flagfile=configs/toy_balanced_dat.flags --run_dir=runs/toy_dat": Run(
        0, _trained("runs/toy_dat", 10000),
    ),
    "tensorboard --logdir runs/toy_dat/logs": Serve(
        ("--host=127.0.0.1", "--port={port}"), "a free port on the loopback, not 6006 on every interface", "d_loss",
    ),
    "python bin/sample.py --run_dir=runs/toy_dat --num=64": Run(0, _toy_samples),
    "python bin/train.py --flagfile=configs/digits.flags": Run(0, _trained("runs/digits", 1000)),
    "python bin/eval.py --generator=runs/digits/generator.keras --dataset=digits --classifier=digits": Run(
        0, _digits_metrics,
    ),
    "python bin/train.py --flagfile=configs/sngan_cifar10.flags --mock_data --n_iter=4 --log_every=2 --width=16 "
    "--batch_size=8 --run_dir=runs/smoke": Run(0, _trained("runs/smoke", 4)),
    "python bin/eval.py --generator=runs/sngan_cifar10_dat/generator.keras --dataset=cifar10 --classifier=inception "
    "--num_samples=50000": Run(EXIT_NOT_AVAILABLE, _cifar10_inception_missing, before=_tiny_cifar_generator,
                               max_seconds=60),
}
CHECKS = {_norm(k): v for k, v in CHECKS.items()}


def test_every_readme_command_is_checked():
    commands = _bash_commands()
    assert len(commands) >= 10, commands
    unchecked = [c for c in commands if c not in CHECKS]
    assert not unchecked, f"README commands without an entry in tests/readme_test.py CHECKS: {unchecked}"
    stale = [c for c in CHECKS if c not in commands]
    assert not stale, f"CHECKS entries no longer in the README: {stale}"
    assert all(c.startswith(("python ", "pip ", "tensorboard ")) for c in commands)


def test_readme_setup_commands_match_ci():
    bash = _bash_blocks()
    assert bash[0].strip() == "pip install -e . && python bin/figure3.py"
    test_cmd = bash[1].strip()
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        assert test_cmd in f.read()


def test_readme_fit_block_runs(tmp_path, monkeypatch, capsys):
    blocks = [b for b in _python_blocks() if "gan.fit(" in b]
    assert len(blocks) == 1, "the README must hold exactly one compile()/fit() example"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    gan, history = namespace["gan"], namespace["history"]
    assert gan.regularizer.name == "dat"
    assert int(gan.g_steps.numpy()) == 2 * 512 // 128
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert (tmp_path / "my_gan.keras").exists()
    assert "d_loss" in capsys.readouterr().out


# ----------------------------------------------------------------------------- running them


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _argv(command, extra=()):
    argv = shlex.split(command) + list(extra)
    if argv[0] == "python":
        argv[0] = sys.executable
    elif argv[0] == "tensorboard":
        exe = shutil.which("tensorboard")
        argv[:1] = [exe] if exe else [sys.executable, "-m", "tensorboard.main"]
    return argv


def _serve(command, check, cwd, env):
    port = _free_port()
    extra = [e.format(port=port) for e in check.extra]
    proc = subprocess.Popen(_argv(command, extra), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline, tags = time.time() + 60, {}
        while time.time() < deadline and not any(check.tag in t for t in tags.values()):
            assert proc.poll() is None, f"{command!r} exited with {proc.returncode}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=5) as r:
                    tags = json.loads(r.read())
            except OSError:
                time.sleep(0.5)
        assert any(check.tag in t for t in tags.values()), f"{command!r} did not serve {check.tag!r}: {tags}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _tree(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path):
    """Every README command in order, offline; about 2.5 min on 2 CPU cores (the toy and digits runs ~25 s each)."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    for name in LINKED:
        os.symlink(os.path.join(ROOT, name), cwd / name)
    (tmp_path / "tfds").mkdir()
    env = dict(os.environ, TFDS_DATA_DIR=str(tmp_path / "tfds"), TFHUB_CACHE_DIR=str(tmp_path / "tfhub"),
               DAT_TF_METRICS_CACHE=str(tmp_path / "metrics_cache"))
    env.pop("DAT_TF_INCEPTION_PATH", None)
    repository = (_tree(ROOT), _tree(os.path.join(ROOT, "runs")))
    ran = []
    for command in _bash_commands():
        check = CHECKS[command]
        if isinstance(check, Skip):
            continue
        if isinstance(check, Serve):
            _serve(command, check, cwd, env)
            ran.append(command)
            continue
        if check.before is not None:
            check.before(str(cwd))
        t0 = time.time()
        proc = subprocess.run(_argv(command, check.extra), cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=900)
        seconds = time.time() - t0
        assert proc.returncode == check.code, (
            f"{command!r} exited {proc.returncode}, expected {check.code}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
        assert seconds < check.max_seconds, f"{command!r} took {seconds:.0f} s"
        check.verify(proc, str(cwd))
        ran.append(command)
    assert len(ran) == sum(not isinstance(c, Skip) for c in CHECKS.values())
    assert (_tree(ROOT), _tree(os.path.join(ROOT, "runs"))) == repository, "a README command wrote into the repository"
