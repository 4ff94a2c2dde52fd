"""The study's installed commands (``dat-results``, ``dat-figure3``), run as pip writes them from a folder
holding nothing of the checkout: ``--help`` prints their own text and flags; ``dat-results`` renders the page
there but refuses to run sections, saying why; ``dat-figure3`` trains from the flagfiles installed with dat_tf."""

import json
import subprocess

import pytest

COMMANDS = {
    "dat-results": ("Reruns the paper's claims at CPU scale", ["sections", "quick", "render", "out_dir", "workers"]),
    "dat-figure3": ("Reruns the paper's Figure 3", ["seeds", "checkpoints", "configs_dir", "mixture_stds", "out_dir"]),
}


def _run(argv, cwd):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_prints_the_commands_text_and_flags(assert_help, name):
    assert_help(name, *COMMANDS[name])


def test_results_outside_a_checkout_renders_but_runs_nothing(tmp_path, installed_command):
    proc = _run([*installed_command("dat-results"), "--sections=figure3"], tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]  # the command's usage errors (absl's UsageError)
    assert "Traceback" not in proc.stderr
    assert (f"running sections reads the flagfiles from configs/ in the working folder ({tmp_path} has none): run it "
            "from the root of the project's checkout, or pass --render") in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "runs").exists()
    proc = _run([*installed_command("dat-results"), "--render", "--out_dir=page"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("wrote page/results.md"), proc.stdout[-2000:]
    assert "Not run yet." in (tmp_path / "page" / "results.md").read_text()


def test_figure3_outside_a_checkout_reads_the_installed_toy_flagfiles(tmp_path, installed_command):
    proc = _run([*installed_command("dat-figure3"), "--seeds=0", "--checkpoints=20", "--mixture_stds=default",
                 "--methods=none", "--workers=1", "--out_dir=f3"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "wrote f3/figure3.png, f3/figure3.md, f3/figure3.json" in proc.stdout, proc.stdout[-2000:]
    with open(tmp_path / "f3" / "figure3.json") as f:
        result = json.load(f)
    assert [round(r["std"], 3) for r in result["readings"]] == [0.316]  # the toy flagfiles' std, read from them
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f3", "runs"]
