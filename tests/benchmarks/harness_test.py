"""The step-time harness (benchmarks/harness.py), the benchmarks built on it, and the study's cost section that reads
their step table."""

import importlib.util
import json
import os

import numpy as np
import pytest

from benchmarks import harness as cost
from dat_study import cost as cost_section
from dat_study import parallel, study

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", os.path.join(ROOT, "benchmarks", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reused_step_table_gives_the_committed_section():
    opts = study.StudyOptions(cost_results=os.path.join(ROOT, "benchmarks", "results.json"))
    data = cost_section.run_section(opts)
    with open(os.path.join(ROOT, "docs", "results", "cost.json")) as f:
        committed = json.load(f)["data"]
    assert data.pop("source") == opts.cost_results and committed.pop("source") == "benchmarks/results.json"
    assert data == committed
    for net in data["nets"].values():  # ratios are of the same table's medians
        for reg, seconds in net["seconds"].items():
            assert net["ratio"][reg] == pytest.approx(seconds / net["seconds"]["none"])


def test_cost_section_without_the_step_table_says_how_to_make_it(tmp_path):
    opts = study.StudyOptions(cost_results=str(tmp_path / "results.json"))
    with pytest.raises(RuntimeError, match="run `python benchmarks/run_all.py --tables=step` first"):
        cost_section.run_section(opts)


def test_step_entry_times_side_by_side():
    built = []
    entry = cost.step_entry("mlp", ["none", "dat"], rounds=3, steps=2, warmup=1, overrides=dict(batch_size=32),
                            on_built=lambda key, runner: built.append((key, runner.cfg.regularizer)))
    assert built == [("none", "none"), ("dat", "dat")]  # all built first, in order
    assert entry["steps"] == 2 and entry["settings"] == dict(net="mlp", widths="width 64", batch_size=32, n_dis=1,
                                                             loss="ns", latent_dim=2)
    for reg in ("none", "dat"):
        r = entry["results"][reg]
        assert len(r["round_s"]) == 3 and all(t > 0 for t in r["round_s"])
        assert r["median_s"] == pytest.approx(float(np.median(r["round_s"])))
        assert r["build_s"] > 0 and r["warmup_s"] > 0


def test_gan_config_refuses_an_unknown_net():
    with pytest.raises(ValueError, match="net='resnet' is not a benchmarked net"):
        cost.gan_config("resnet", "none")


def test_call_in_fresh_process_returns_raises_and_passes_env(monkeypatch):
    monkeypatch.delenv("DAT_TF_TEST_VAR", raising=False)
    assert parallel.call_in_fresh_process(os.getenv, "DAT_TF_TEST_VAR", env={"DAT_TF_TEST_VAR": "seen"}) == "seen"
    assert "DAT_TF_TEST_VAR" not in os.environ  # the parent's environment is left as it was
    with pytest.raises(RuntimeError, match=r"int\('x'\) failed in its process(.|\n)*ValueError"):
        parallel.call_in_fresh_process(int, "x")


def test_benchmark_scripts_use_the_package_harness(tmp_path):
    step_time = _load_script("step_time")
    assert step_time.measure is cost.measure and step_time.NETS is cost.NETS
    run_all = _load_script("run_all")
    assert run_all.cost is cost and run_all.REGULARIZERS == list(cost.REGULARIZERS)
    assert run_all.NETS == list(cost.STEP_NETS)
    # The README is rendered from results.json as committed: the format did not change.
    with open(os.path.join(ROOT, "benchmarks", "results.json")) as f:
        stored = json.load(f)
    with open(os.path.join(ROOT, "benchmarks", "README.md")) as f:
        assert run_all.render(stored["last_run"], stored["tables"]) == f.read()
