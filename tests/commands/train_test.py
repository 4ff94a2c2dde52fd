"""``dat-train`` as installed, from a folder holding nothing of the checkout: a flagfile named by its bare name
(one of configs/, installed with the package) trains."""

import json
import os
import subprocess


def test_a_packaged_flagfile_trains_from_an_empty_folder(tmp_path, installed_command):
    proc = subprocess.run([*installed_command("dat-train"), "--flagfile=toy_balanced_dat", "--n_iter=20",
                           "--run_dir=r"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "finished 20 generator steps in r" in proc.stdout, proc.stdout[-2000:]
    with open(tmp_path / "r" / "config.json") as f:
        config = json.load(f)
    assert (config["dataset"], config["regularizer"], config["n_iter"]) == ("mixture_balanced", "dat", 20)
    assert os.path.isfile(tmp_path / "r" / "checkpoints" / "ckpt-20.index")
    assert os.listdir(tmp_path) == ["r"]  # the flagfile came from the package, nothing else was written here
