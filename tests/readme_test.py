"""The README's code block is the documented way to use the library: run it as written."""

import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python_blocks():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


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


def test_readme_setup_commands_match_ci():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    bash = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert bash[0].strip() == "pip install -e . && python bin/figure3.py"
    test_cmd = bash[1].strip()
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert test_cmd in ci
