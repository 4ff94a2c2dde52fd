"""The reproduction study: the section registry, run specs, one real miniature run, the stored results and the page."""

import json
import os
import re

import numpy as np
import pytest

from dat_tf.train.config import TrainConfig
from dat_tf.experiments import (common, figure1, figure3, figures45, lipschitz, paper, render, runner, study, table3,
                                 tables12)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("opts", [study.StudyOptions(), study.quick_options()], ids=["full", "quick"])
def test_every_run_spec_is_a_valid_config(opts):
    opts.configs_dir = os.path.join(ROOT, "configs")
    specs = list(table3.run_specs(opts).values())
    # main arm: None, DAT, 0-GP on the key seeds, the 8 other columns on table3_seeds; SN arm: 5 columns
    assert len(specs) == 3 * (3 * len(opts.table3_key_seeds) + 8 * len(opts.table3_seeds) + 5 * len(opts.table3_sn_seeds))
    assert sum(s.correctness_batches > 0 for s in specs) == 3 * 3 * len(opts.table3_key_seeds)
    for spec in specs:
        cfg = TrainConfig.from_flagfile(spec.flagfile, **dict(spec.overrides)).validate()
        assert (cfg.dataset, cfg.resolution, cfg.width, cfg.n_iter) == ("digits", opts.resolution, opts.width,
                                                                         opts.table3_iters)
        assert cfg.log_gradient_norms
    # the miniature keeps each flagfile's objective and optimizer: spot-check one
    wgan_dat = table3.run_specs(opts)[("main", "wgan", "dat", opts.table3_key_seeds[0])]
    cfg = TrainConfig.from_flagfile(wgan_dat.flagfile, **dict(wgan_dat.overrides))
    assert (cfg.loss, cfg.regularizer, cfg.lr_d, cfg.beta1, cfg.latent_dim) == ("wgan", "dat", 1e-4, 0.5, 128)
    assert (cfg.net, cfg.d_sigmoid) == ("dcgan_rfm", True)
    for _, stem in paper.FIGURES45_SETTINGS:
        for sfx in ("", "_dat"):
            assert os.path.isfile(os.path.join(ROOT, "configs", stem + sfx + ".flags"))


def test_run_spec_needs_run_dir():
    with pytest.raises(ValueError, match="run_dir"):
        runner.RunSpec.make("configs/toy_balanced.flags", {"n_iter": 2})


def _tiny_spec(run_dir, **over):
    overrides = dict(n_iter=20, log_every=10, batch_size=32, checkpoint_every=0, sample_every=0, verbose=0,
                     run_dir=str(run_dir), seed=3)
    overrides.update(over)
    return runner.RunSpec.make(os.path.join(ROOT, "configs", "toy_balanced_dat.flags"), overrides, final_eval=False)


def test_run_one_trains_logs_and_reuses(tmp_path):
    spec = _tiny_spec(tmp_path / "run")
    first = runner.run_one(spec)
    assert first["reused"] is False and first["diverged_at"] is None
    assert [row["step"] for row in first["logs"]] == [10, 20]
    for row in first["logs"]:
        assert row["grad_norm_real"] > 0 and row["perturbation_norm"] > 0  # DAT's diagnostics are logged
    assert os.path.isfile(tmp_path / "run" / "result.json")
    again = runner.run_one(spec)
    assert again["reused"] is True and again["logs"] == first["logs"]
    # a different spec in the same folder is trained again, not mistaken for the stored one
    other = runner.run_one(_tiny_spec(tmp_path / "run", n_iter=10))
    assert other["reused"] is False and [row["step"] for row in other["logs"]] == [10]


def test_run_one_records_divergence(tmp_path, monkeypatch):
    from dat_tf.train import loop as training
    from dat_tf.train.nan_guard import NonFiniteLossError

    def diverge(cfg, **kw):
        raise NonFiniteLossError("d_loss is nan", 7, ["d_loss"], "report.json", "state")

    monkeypatch.setattr(training, "train", diverge)
    spec = runner.RunSpec.make(os.path.join(ROOT, "configs", "toy_balanced.flags"),
                               dict(run_dir=str(tmp_path / "r"), n_iter=10), final_eval=True)
    os.makedirs(tmp_path / "r")
    result = runner.run_one(spec)
    assert result["diverged_at"] == 7
    assert np.isnan(runner.metric(result, "fid_train"))


def _fake_sections(opts):
    """Section files shaped like the real ones, with DAT built to win table3 and lose figures45."""
    t3_runs = []
    for row in paper.TABLE3_LOSSES:
        for i, reg in enumerate(paper.TABLE3_REGS):
            for seed in (0, 1, 2):
                fid = 10.0 + i if reg not in ("dat", "datt") else 1.0 + (reg == "datt")
                logs = [{"step": s, "grad_norm_real": (0.1 if reg == "dat" else 1.0) + 0.01 * seed,
                         "grad_norm_fake": 1.0 + 0.01 * seed} for s in (100, 200, 300, 400)]
                t3_runs.append({"arm": "main", "row": row, "reg": reg, "seed": seed, "logs": logs, "curve": [],
                                "config": {"n_iter": 1000},
                                "final": {"fid_train": fid + 0.1 * seed, "kid_train": 0.01}, "diverged_at": None})
    f45 = []
    for _, stem in paper.FIGURES45_SETTINGS:
        for arm in ("none", "dat"):
            for seed in (0, 1):
                fid = 5.0 if arm == "none" else 50.0
                f45.append({"stem": stem, "arm": arm, "seed": seed, "logs": [],
                            "curve": [{"step": 50, "fid_train": fid + 1}, {"step": 100, "fid_train": fid}],
                            "final": {"fid_train": fid + seed * 0.1}, "diverged_at": None})
    # Figure 1: DAT's K lower than the baseline's, its K per unit of initial gap higher (3 seeds, tiny spread)
    f1_rows = []
    for reg, k, per_gap in (("none", 8.0, 20.0), ("dat", 7.0, 40.0)):
        f1_rows.append({"regularizer": reg, "step_size": 2 / 255, "seeds": [0, 1, 2], "step": 2000, "tol": 0.02,
                        "num": 64, "resolution": 32, "max_iters": 200, "eval_seeds": [0, 1, 2],
                        **{m: [k + 0.01 * i for i in range(3)] for m in ("k_fake", "k_real")},
                        **{m: [per_gap + 0.01 * i * i for i in range(3)] for m in ("k_per_gap_fake", "k_per_gap_real")},
                        **{m: [0.05, 0.05, 0.05] for m in ("rate_fake", "rate_real")},
                        "initial_gap": [0.3, 0.3, 0.3], "success_fake": [1.0] * 3, "success_real": [1.0] * 3})
    table = []
    for mixture in ("balanced", "imbalanced"):
        for method in ("none", "dat", "dat_reference"):
            for step in (2000, 3000):
                vals = lambda m: {"values": [m - 1e-3, m, m + 1e-3]}  # noqa: E731
                table.append({"mixture": mixture, "method": method, "step": step, "seeds": 3,
                              "modes_covered": vals(9.0), "kl": vals(0.05), "mode_mass_error": vals(0.1)})
    sections = {
        "figure3": {"variants": [{"tag": "figure3", "std": 0.316, "table": table, "seconds": 60.0}], "seeds": [0, 1, 2]},
        "figure1": {"rows": f1_rows, "code_versions": {"r0": ["abc"], "r1": ["abc"]}, "train_seconds": {},
                    "results": os.path.join(opts.artefacts, "figure1", "results.jsonl"), "d_batch_norm": False,
                    "step_sizes": [2 / 255]},
        "table3": {"runs": t3_runs},
        "figures45": {"runs": f45},
        "lipschitz": {"runs": [dict(r, correctness=None) for r in t3_runs if r["reg"] in lipschitz.LIPSCHITZ_REGS]},
        "cost": {"source": "x", "date": "today", "command": "python benchmarks/run_all.py", "wall_s": 600.0,
                 "quick": False, "nets": {"sngan32": {"settings": {"batch_size": 64, "n_dis": 5, "loss": "hinge"},
                                                      "seconds": {"none": 2.0, "gp": 3.0, "dat": 2.5},
                                                      "ratio": {"none": 1.0, "gp": 1.5, "dat": 1.25}}}},
    }
    for name, data in sections.items():
        common.write_section(opts, name, {"section": name, "seconds": 120.0, "date": "today", "quick": False,
                                          "machine": "test machine", "data": data})
    common.write_section(opts, "tables12", {"section": "tables12", "seconds": 120.0, "date": "today", "quick": False,
                                            "machine": "test machine", "data": tables12.run_section(opts)})


def test_render_page_has_seven_sections_and_mechanical_verdicts(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"))
    _fake_sections(opts)
    page = open(render.render_page(opts)).read()
    headers = re.findall(r"^## (\d)\. ", page, re.M)
    assert headers == ["1", "2", "3", "4", "5", "6", "7"]
    assert page.count("*Verdict:*") == 7 and page.count("*Wall time:*") == 7
    # 3 seeds: a claim can be "suggestive" at most
    assert "DAT beats no regularization (per loss, FID): **suggestive** (3 of 3 cells better, 0 worse, 0 tie" in page
    assert ("DAT or DATT has the best FID of the nine (DAT's ranks: GAN #1, LSGAN #1, WGAN #1): "
            "**suggestive**") in page
    assert "DAT improves the final FID across settings: **suggestive against** (0 of 6 cells better, 6 worse" in page
    # K went down with DAT in the fake data, K per unit of gap up (3 training seeds, every cell significant)
    assert "DAT raises K (the paper's measure): **suggestive against** (0 of 2 cells better, 2 worse" in page
    assert "DAT raises K per unit of initial score gap (the gap divided out): **suggestive** (2 of 2 cells better" in page
    assert "All 2 runs were trained by one code version, `abc`" in page
    # gradient norm at reals lower with DAT (better); at fakes every arm has the same values (degenerate)
    assert ("DAT lowers D's input-gradient norm vs no regularization: **suggestive** (3 of 3 cells better, 0 worse, "
            "0 tie at alpha=0.05 (Holm over the section's 6 tested cells); 3 seeds (< 5: at most suggestive); "
            "3 degenerate cells not counted)") in page
    # DAT is below 0-GP at reals, so never strictly between 0-GP and None
    assert "weaker than 0-GP\" reading of section 4.3; it does not test adaptivity): **suggestive against**" in page
    # every figure3 cell has the same values in both arms
    assert ("std 0.316, balanced mixture: DAT (paper) fits better than GAN: **degenerate** (all 4 cells "
            "degenerate)") in page
    assert "Degenerate cells (not tested, not counted):" in page
    assert ("| 3.1 | DAT beats no regularization (per loss, FID) | FID on digits, the AR/RFM code base's D, 1000 steps, "
            "3 seeds, 3 losses |") in page
    # a one-cell claim shows its effect and interval in the summary table
    assert re.search(r"\| 3\.3 \| WGAN loss, DAT beats 0-GP .*\| \+\d+\.\d\d \[\+\d+\.\d\d, \+\d+\.\d\d\] \|",
                     page)
    assert page.count("*Measured:* today") == 7  # the stored dates, not the render's (tables12: the cost's date)
    assert "*Measured:* 2026" not in page and "| today |" in page
    assert "1.25x" in page and "1.50x" in page  # the cost ratios
    for png in ("table3.png", "figures45.png", "lipschitz.png"):
        assert os.path.getsize(tmp_path / "results" / png) > 1000
    # the table3 row holds the mean ± std of the three seeds: fid 10.0, 10.1, 10.2 for None
    assert "10.10 ± 0.10 (#3)" in page  # sample std (ddof 1)


def test_render_without_sections_says_not_run(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path))
    page = open(render.render_page(opts)).read()
    assert page.count("Not run yet.") == 7
    assert f"`python bin/results.py --out_dir={tmp_path} --sections=table3`" in page  # the command that writes it


def test_unknown_section_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'table4'"):
        study.run_sections(study.StudyOptions(out_dir=str(tmp_path)), ["table4"])


def test_section_time_json_roundtrip(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path))
    common.write_section(opts, "cost", {"seconds": 1.5})
    assert common.load_section(opts, "cost") == {"seconds": 1.5}
    assert json.load(open(tmp_path / "results" / "cost.json")) == {"seconds": 1.5}


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--sections=table3,table4", f"['table4'] not allowed; expected some of {list(study.SECTIONS)}"),
        ("--figure3_stds=default,-1", "--figure3_stds=default,-1 is not allowed"),
        ("--figure3_stds=wide", "--figure3_stds=wide is not allowed"),
        ("--workers=0", "--workers=0 is not allowed"),
    ],
)
def test_cli_refuses_bad_flags_before_any_work(flag, message, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "results.py"), flag, f"--out_dir={tmp_path}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not os.path.exists(tmp_path / "results")  # nothing was run or written


# ------------------------------------------------------ the registry and the package's shape


def test_a_section_added_to_the_registry_is_run_and_rendered(tmp_path, monkeypatch):
    ran = []

    def run(opts):
        ran.append(opts.out_dir)
        return {"value": 3}

    def markdown(opts, sec):
        return [f"extra body {sec['data']['value']}"], ["extra verdict line"], "reproduced"

    extra = study.Section(title="Extra claim", claim="Something the paper says.", command="{results} --sections=extra",
                          full_command="python bin/extra.py", run=run, markdown=markdown)
    monkeypatch.setitem(study.SECTIONS, "extra", extra)
    opts = study.StudyOptions(out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"))
    study.run_sections(opts, ["extra"], log=lambda msg: None)
    assert ran == [str(tmp_path)]
    assert json.load(open(tmp_path / "results" / "extra.json"))["data"] == {"value": 3}
    page = open(render.render_page(opts)).read()
    assert "## 8. Extra claim" in page and "*Claim:* Something the paper says." in page
    assert f"*Here:* `python bin/results.py --out_dir={tmp_path} --sections=extra`" in page
    assert "extra body 3" in page and "- extra verdict line" in page
    assert "| 8 | Extra claim | | | | reproduced |" in page
    assert page.count("Not run yet.") == 7  # the seven real sections, not run here
    monkeypatch.undo()
    assert "Extra claim" not in open(render.render_page(opts)).read()
    with pytest.raises(ValueError, match="'extra'"):
        study.run_sections(opts, ["extra"])


def test_registry_points_at_the_section_modules():
    from dat_tf.experiments import cost, figure3, figures45

    modules = {"figure3": figure3, "figure1": figure1, "table3": table3, "figures45": figures45,
               "lipschitz": lipschitz, "cost": cost, "tables12": tables12}
    assert list(study.SECTIONS) == list(modules)  # page order
    for name, section in study.SECTIONS.items():
        assert section.run is modules[name].run_section and section.markdown is modules[name].section_markdown
        assert section.claim == paper.CLAIMS[name]


def _experiments_imports():
    """``{module: {experiments modules it imports}}`` over every import statement, lazy ones included."""
    import ast

    folder = os.path.join(ROOT, "dat_tf", "experiments")
    names = {f[:-3] for f in os.listdir(folder) if f.endswith(".py") and f != "__init__.py"}
    graph = {}
    for name in names:
        deps = set()
        for node in ast.walk(ast.parse(open(os.path.join(folder, name + ".py")).read())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "dat_tf.experiments" or (node.level == 1 and not node.module):
                    deps |= {a.name for a in node.names}
                elif node.module.startswith("dat_tf.experiments."):
                    deps.add(node.module.split(".")[2])
                elif node.level == 1:
                    deps.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[2] for a in node.names if a.name.startswith("dat_tf.experiments.")}
        graph[name] = deps & names
    return graph


def test_experiments_package_has_no_import_cycle_and_imports_one_way():
    graph = _experiments_imports()
    assert graph["render"] >= {"study"} and "render" not in set().union(*(graph[m] for m in graph if m != "render"))
    assert all("study" not in deps for m, deps in graph.items() if m != "render")  # sections never import the driver
    state = {}

    def visit(m, path):
        state[m] = "open"
        for d in sorted(graph[m]):
            assert state.get(d) != "open", f"import cycle: {' -> '.join(path + [m, d])}"
            if d not in state:
                visit(d, path + [m])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])


def test_defaults_write_under_runs_not_docs():
    for opts in (study.StudyOptions(), study.quick_options()):
        assert opts.out_dir.split(os.sep)[0] == "runs" and opts.runs_dir.split(os.sep)[0] == "runs"
    from dat_tf.experiments.figure3 import Figure3Options

    assert Figure3Options().out_dir == os.path.join("runs", "figure3")
    assert figure1.Figure1Options().out_dir == os.path.join("runs", "figure1")


def test_the_study_trains_and_attacks_figure1_in_its_own_folders():
    full = figure1.section_reproduction(study.StudyOptions(out_dir="docs")).validate()
    assert (full.out_dir, full.runs_dir) == (os.path.join("docs", "results", "figure1"),
                                             os.path.join("runs", "results", "figure1"))
    assert (full.train_seeds, full.n_iter, full.resolution, full.step_sizes) == ((0, 1, 2, 3, 4), 2000, 32,
                                                                                figure1.STEP_SIZES)
    quick = figure1.section_reproduction(study.quick_options()).validate()
    assert quick.out_dir == os.path.join(common.QUICK_OUT_DIR, "results", "figure1")
    runs = [c["run_dir"] for c in figure1.train_configs(quick)]
    assert len(runs) == 2 and all(r.startswith(os.path.join("runs", "results_quick")) for r in runs)
    assert len(figure1.attack_jobs(quick)) == 2  # one job per run: every step size and evaluation seed
    assert "reproduce.sh" not in study.SECTIONS["figure1"].command


@pytest.mark.parametrize("script, default", [("figure3.py", "runs/figure3")])
def test_cli_output_defaults_are_under_runs(script, default):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bin", script), "--helpshort"], capture_output=True,
                          text=True, timeout=120)
    text = " ".join((proc.stdout + proc.stderr).split())
    assert re.search(r"--out_dir: .*?\(default: '" + re.escape(default) + r"'\)", text), text[-2000:]


def test_figure3_pairs_by_seed_list_else_by_position():
    entry = {"kl": {"values": [0.1, 0.2, 0.3]}}
    assert figure3._seeded(entry, "kl", [4, 5, 6]) == {4: 0.1, 5: 0.2, 6: 0.3}
    assert figure3._seeded(dict(entry, seed_list=[6, 5, 4]), "kl", [4, 5, 6]) == {6: 0.1, 5: 0.2, 4: 0.3}
    with pytest.raises(ValueError, match="3 values but 2 seeds"):
        figure3._seeded(entry, "kl", [0, 1])


def test_committed_sections_pair_every_cell_by_seed():
    # the stored JSON behind docs/results.md keeps the seed of every value the verdicts pair
    opts = study.StudyOptions(out_dir=os.path.join(ROOT, "docs"))
    for name, module in (("table3", table3), ("figures45", figures45), ("lipschitz", lipschitz)):
        sec = common.load_section(opts, name)
        runs = sec["data"]["runs"]
        if name == "table3" and not any("arm" in r for r in runs):
            continue  # stored by the first study (SN D only): its cells are not the verdicts' any more
        cells = module.comparisons(runs)
        seeds = tuple(sorted({r["seed"] for r in runs}))
        if name == "table3":  # columns hold 3 or 5 seeds: a cell pairs the seeds both of its columns hold
            assert cells and all(c.seeds and set(c.seeds) <= set(seeds) for c in cells.values())
        else:
            assert cells and all(c.seeds == seeds for c in cells.values())
