"""setup.py's wheel (a non-editable install): the commands on PATH are the console scripts, and the flagfiles
of configs/ are inside it, as dat_tf/configs, where an installed dat_tf finds them by bare name."""

import glob
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = {
    "dat-train": "dat_tf.commands.train:run",
    "dat-eval": "dat_tf.commands.eval:run",
    "dat-sample": "dat_tf.commands.sample:run",
    "dat-attack": "dat_tf.commands.attack:run",
    "dat-train-digits-classifier": "dat_tf.commands.train_digits_classifier:run",
    "dat-results": "dat_study.commands.results:run",
    "dat-figure3": "dat_study.commands.figure3:run",
}


def _version(package):
    try:
        return tuple(int(p) for p in metadata.version(package).split(".")[:2])
    except metadata.PackageNotFoundError:
        return None


def _builds_wheels_itself():
    """Whether this environment's setuptools builds a wheel without pip downloading a build environment
    (setuptools >= 70.1, or an older one with the wheel package)."""
    setuptools = _version("setuptools")
    return setuptools is not None and (setuptools >= (70, 1) or _version("wheel") is not None)


@pytest.mark.slow
def test_the_wheel_holds_the_commands_and_the_flagfiles(tmp_path):
    src = tmp_path / "src"  # a copy: building writes build/ and *.egg-info beside setup.py
    src.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    for name in ("dat_tf", "dat_study", "configs"):
        shutil.copytree(os.path.join(ROOT, name), src / name, ignore=shutil.ignore_patterns("__pycache__"))
    offline = ["--no-build-isolation"] if _builds_wheels_itself() else []
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *offline, "-w",
                           str(tmp_path / "wheel"), str(src)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        z.extractall(tmp_path / "site")
    assert "dat_tf/configs/toy_balanced_dat.flags" in names
    packaged = sorted(n.split("/")[-1] for n in names if n.startswith("dat_tf/configs/") and n.endswith(".flags"))
    assert packaged == sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "configs", "*.flags")))
    assert dict(re.findall(r"^(dat-[\w-]+) = (\S+)$", entry_points, flags=re.M)) == COMMANDS
    assert not [n for n in names if ".data/scripts/" in n], "no bin/*.py on PATH: the commands are the dat-* ones"

    # Installed so (the wheel's files on the path, the checkout nowhere), dat_tf finds them from an empty folder.
    empty = tmp_path / "empty"
    empty.mkdir()
    code = ("import importlib.resources, dat_tf, dat_tf.flagfiles as f\n"
            "print(dat_tf.__file__)\n"
            "print(importlib.resources.files('dat_tf.configs').joinpath('toy_balanced_dat.flags').is_file())\n"
            "print(f.resolve('toy_balanced_dat'))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=empty, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path / "site")))
    assert proc.returncode == 0, proc.stderr[-3000:]
    installed = tmp_path / "site" / "dat_tf"
    assert proc.stdout.splitlines() == [str(installed / "__init__.py"), "True",
                                        str(installed / "configs" / "toy_balanced_dat.flags")]
