"""The installed commands (setup.py's console scripts, run as pip writes them, from an empty folder): ``--help``
prints the command's own text and flags, and every command finds flagfiles by bare name or says which it could
not find in one line, naming itself as the user typed it."""

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# command -> (the start of its --help text, some of its flags)
COMMANDS = {
    "dat-train": ("Trains one GAN run", ["run_dir", "regularizer", "n_iter", "dat_epsilon", "overwrite"]),
    "dat-eval": ("FID / KID (train and test split) and IS", ["run_dir", "generator", "classifier", "num_samples"]),
    "dat-sample": ("Writes a PNG grid and an .npz of samples", ["generator", "run_dir", "num", "out"]),
    "dat-attack": ("Figure 1's attack diagnostic", ["run_dir", "step_size", "max_iters", "out"]),
    "dat-train-digits-classifier": ("Trains the offline metric classifier", ["output", "epochs", "augment"]),
}


def _run(argv, cwd):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_prints_the_commands_text_and_flags(assert_help, name):
    assert_help(name, *COMMANDS[name])


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unknown_flagfile_is_one_line_naming_the_command_and_exit_2(tmp_path, installed_command, name):
    proc = _run([*installed_command(name), "--flagfile=toy_balnced_dat"], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.splitlines() == [
        f"error: --flagfile=toy_balnced_dat: no file toy_balnced_dat in {tmp_path}, nor a flagfile of that name "
        f"installed with dat_tf (in {ROOT}/configs); close matches among the installed "
        "flagfiles (pass the bare name): toy_balanced_dat, toy_imbalanced_dat, toy_balanced, toy_imbalanced.",
        f"({name} --helpfull lists every flag.)",
    ]
