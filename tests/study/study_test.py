"""The reproduction study: the section registry, run specs, one real miniature run, the stored results and the page."""

import dataclasses
import glob
import json
import os
import re

import numpy as np
import pytest

from dat_tf.train.config import TrainConfig
from dat_study import (common, figure1, figure3, figures45, lipschitz, paper, pilot, render, runner, study,
                                 table3, tables12)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _write_pilot(opts, budgets=None, readings=None, ours=0.1):
    """A stored pilot section: every family of ``pilot.families(opts)`` with a budget (default 2000 / 12000)."""
    fams = {}
    for name, fam in pilot.families(opts).items():
        budget = (budgets or {}).get(name, 2000 if fam.kind == "digits" else 12000)
        key = "fid_train" if fam.kind == "digits" else "mode_mass_error"
        arms = {a: {"final": {key: 20.0, "is": 6.0}, "perturbation_ratio": 0.05 if a == "dat" else 0.0,
                    "curve": [{"step": fam.cap // 40 * (k + 1), key: 20.0 + 1.0 / (k + 1)} for k in range(40)]}
                for a in fam.arms}
        fams[name] = {"title": fam.title, "section": fam.section, "kind": fam.kind, "cap": fam.cap,
                      "grid": list(fam.grid), "budget": budget, "capped": False, "arms": arms,
                      "learned": {a: True for a in arms}, "improvement": {a: {str(budget): 0.01} for a in arms}}
    readings = readings or {"gan": "logit", "lsgan": "sigmoid", "wgan": "logit"}
    common.write_section(opts, "pilot", {"section": "pilot", "seconds": 60.0, "date": "today", "quick": False,
                                         "machine": "test machine",
                                         "data": {"families": fams, "readings": readings, "ours": ours}})


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
def test_every_run_spec_is_a_valid_config_at_its_pilot_budget(quick, tmp_path):
    kw = dict(out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"), configs_dir=os.path.join(ROOT, "configs"))
    opts = study.quick_options(**kw) if quick else study.StudyOptions(**kw)
    _write_pilot(opts, budgets={"table3_wgan_logit": 3000})
    specs = table3.run_specs(opts)
    # main arm: 11 columns x 3 rows x table3_seeds; the other reading of LSGAN and WGAN: 4 columns
    assert len(specs) == 3 * 11 * len(opts.table3_seeds) + 2 * 4 * len(opts.table3_other_seeds)
    assert sum(s.correctness_batches > 0 for s in specs.values()) == 3 * 3 * len(opts.table3_seeds)
    first = list(specs)[: 3 * 4]  # the central columns run first
    assert {k[2] for k in first} == {"none", "dat", "zero_gp", "gp"} and {k[0] for k in first} == {"main"}
    for key, spec in specs.items():
        cfg = TrainConfig.from_flagfile(spec.flagfile, **dict(spec.overrides)).validate()
        budget = 3000 if (key[0], key[1]) == ("main", "wgan") else 2000
        assert (cfg.dataset, cfg.resolution, cfg.width, cfg.n_iter) == ("digits", opts.resolution, opts.width, budget)
        assert cfg.log_gradient_norms and spec.curve_every == max(1, round(budget * opts.curve_fraction))
        assert cfg.log_every == spec.curve_every  # the curve's points fall on epoch ends
    # the miniature keeps each flagfile's objective and optimizer; the reading sets the sigmoid
    wgan_dat = specs[("main", "wgan", "dat", opts.table3_seeds[0])]
    cfg = TrainConfig.from_flagfile(wgan_dat.flagfile, **dict(wgan_dat.overrides))
    assert (cfg.loss, cfg.regularizer, cfg.lr_d, cfg.beta1, cfg.latent_dim) == ("wgan", "dat", 1e-4, 0.5, 128)
    assert (cfg.net, cfg.d_sigmoid) == ("dcgan_rfm", False)  # the logit reading
    other = specs[("other", "wgan", "none", opts.table3_other_seeds[0])]
    assert dict(other.overrides)["d_sigmoid"] is True and "sigmoid_wgan_none" in other.run_dir
    assert dict(specs[("main", "lsgan", "none", opts.table3_seeds[0])].overrides)["d_sigmoid"] is True
    # figures 4/5: the paper's six settings and ours (clip 0.1 from the pilot), then the reference variant
    f45 = figures45.run_specs(opts)
    stems = {k[0] for k in f45}
    assert stems == {st for _, st in paper.FIGURES45_SETTINGS} | {"ours_wgan_it5_clip0.1"}
    ours = TrainConfig.from_flagfile(f45[("ours_wgan_it5_clip0.1", "dat", opts.figures45_seeds[0])].flagfile,
                                     **dict(f45[("ours_wgan_it5_clip0.1", "dat", opts.figures45_seeds[0])].overrides))
    assert (ours.d_weight_clip, ours.n_dis, ours.regularizer) == (0.1, 5, "dat")
    ref = [k for k in f45 if k[1] == "dat_reference"]
    assert {k[0] for k in ref} == set(figures45.CLIPPED) and len(ref) == 2 * len(opts.figures45_reference_seeds)
    assert dict(f45[ref[0]].overrides)["dat_variant"] == "reference"
    for _, stem in paper.FIGURES45_SETTINGS:
        for sfx in ("", "_dat"):
            assert os.path.isfile(os.path.join(ROOT, "configs", stem + sfx + ".flags"))


def test_sections_refuse_to_run_without_the_pilot(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"))
    with pytest.raises(RuntimeError, match="run the pilot section first"):
        table3.run_specs(opts)
    _write_pilot(opts)
    with pytest.raises(RuntimeError, match="no family 'nope'"):
        pilot.budget(opts, "nope")
    assert pilot.budget(opts, "figure1") == 2000


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


def _curve(fid, n=20, every=100):
    return [{"step": every * (k + 1), "fid_train": fid * (1 + 0.5 / (k + 1)), "is": 6.0} for k in range(n)]


def _t3_run(row, reg, seed, fid, is_=6.0, ratio=0.0, arm="main", reading="logit", grad=1.0):
    logs = [{"step": st, "grad_norm_real": grad + 0.01 * seed, "grad_norm_fake": 1.0 + 0.01 * seed,
             "perturbation_ratio": ratio, "reg": 0.0, "d_loss": 1.0} for st in (500, 1000, 1500, 2000)]
    return {"arm": arm, "row": row, "reg": reg, "seed": seed, "logs": logs, "curve": _curve(fid),
            "config": {"n_iter": 2000}, "final": {"fid_train": fid + 0.1 * seed, "kid_train": 0.01, "is": is_},
            "diverged_at": None, "reading": reading, "eval_samples": 2000, "date": "2026-12-06 20:00 UTC",
            "code_version": "abc"}


def _fake_sections(opts):
    """Section files shaped like the real ones: DAT built to win Table 3's GAN and LSGAN rows, the WGAN row's None
    built not to learn (its cells *failed*), DAT built to lose the DCGAN settings and to be inactive under clipping."""
    _write_pilot(opts)
    t3_runs = []
    for row in paper.TABLE3_LOSSES:
        for i, reg in enumerate(table3.MAIN_COLUMNS):
            for seed in range(5):
                fid = 10.0 + i if reg not in ("dat", "datt") else 8.0 + (reg == "datt")
                failed = row == "wgan" and reg != "zero_gp"
                t3_runs.append(_t3_run(row, reg, seed, 300.0 if failed else fid, 1.0 if failed else 6.0,
                                       ratio=0.05 if reg.startswith("dat") else 0.0,
                                       reading="sigmoid" if row == "lsgan" else "logit",
                                       grad=0.1 if reg == "dat" else 1.0))
    t3_runs += [_t3_run("wgan", reg, s, 300.0, 1.0, arm="other", reading="sigmoid") for reg in table3.OTHER_COLUMNS
                for s in range(3)]
    f45, settings = [], []
    for title, stem in paper.FIGURES45_SETTINGS + (("ours: WGAN it 5, clip 0.1", "ours_wgan_it5_clip0.1"),):
        settings.append({"title": title, "stem": stem, "family": stem, "kind": "ours" if "ours" in stem else "paper",
                         "overrides": {}})
        for arm in ("none", "dat"):
            for seed in range(5):
                fid = (5.0 if arm == "none" else 50.0) if "dcgan" in stem else (20.0 if arm == "none" else 10.0)
                ratio = 0.0 if arm == "none" else (0.001 if stem in figures45.CLIPPED else 0.05)
                f45.append({"stem": stem, "arm": arm, "seed": seed, "curve": _curve(fid),
                            "logs": [{"step": 50 * (k + 1), "d_real": 0.1 * k, "d_fake": -0.1 * k * (1 + seed / 10),
                                      "perturbation_ratio": ratio, "perturbation_norm": ratio * 10}
                                     for k in range(40)],
                            "config": {"n_iter": 2000}, "final": {"fid_train": fid + seed * 0.1, "is": 6.0},
                            "diverged_at": None, "date": "2026-12-06 20:00 UTC"})
    f1_rows = []
    for reg, per_gap, success in (("none", 20.0, 0.9), ("dat", 40.0, 0.5)):
        f1_rows.append({"regularizer": reg, "step_size": 2 / 255, "seeds": [0, 1, 2, 3, 4], "step": 2000, "tol": 0.02,
                        "num": 64, "resolution": 32, "max_iters": 200, "eval_seeds": [0, 1, 2],
                        **{m: [8.0 + 0.01 * i for i in range(5)] for m in ("k_fake", "k_real")},
                        **{m: [per_gap + 0.01 * i * i for i in range(5)] for m in
                           ("k_per_gap_fake", "k_per_gap_real", "k_per_gap_successful_fake",
                            "k_per_gap_successful_real")},
                        **{m: [0.05] * 5 for m in ("rate_fake", "rate_real")}, "initial_gap": [0.3] * 5,
                        **{m: [success + 0.01 * i * i for i in range(5)] for m in ("success_fake", "success_real")}})
    trained = [{"regularizer": reg, "seed": seed, "final": {"fid_train": 20.0 + seed, "is": 6.0},
                "perturbation_ratio": 0.02 if reg == "dat" else 0.0} for reg in ("none", "dat") for seed in range(5)]
    table = []
    for mixture in ("balanced", "imbalanced"):
        for method in ("none", "dat", "dat_reference"):
            for step in (2000, 3000, 12000):
                vals = lambda m: {"values": [m - 1e-3, m, m + 1e-3, m, m]}  # noqa: E731
                noisy = {"values": [0.1, 0.12, 0.09, 0.11, 0.1] if method == "none" else [0.11, 0.1, 0.1, 0.1, 0.12]}
                ratio = {"none": 0.0, "dat": 0.05, "dat_reference": 0.0004}[method]
                table.append({"mixture": mixture, "method": method, "step": step, "seeds": 5,
                              "modes_covered": {"values": [9.0] * 5}, "kl": vals(0.05), "mode_mass_error": noisy,
                              "perturbation_norm": vals(ratio), "perturbation_ratio": vals(ratio)})
    sections = {
        "figure3": {"variants": [{"tag": "figure3", "std": 0.316, "table": table, "seconds": 60.0,
                                  "cell_steps": [2000, 3000, 12000], "n_iter": 12000, "num_samples": 2500}],
                    "seeds": [0, 1, 2, 3, 4]},
        "figure1": {"rows": f1_rows, "code_versions": {"r0": ["abc"], "r1": ["abc"]}, "train_seconds": {},
                    "results": os.path.join(opts.artefacts, "figure1", "results.jsonl"), "d_batch_norm": False,
                    "step_sizes": [2 / 255], "trained": trained, "eval_samples": 2000},
        "table3": {"runs": t3_runs, "readings": {"gan": "logit", "lsgan": "sigmoid", "wgan": "logit"},
                   "other_readings": {"lsgan": "logit", "wgan": "sigmoid"}, "resolution": 16, "width": 32},
        "figures45": {"runs": f45, "settings": settings, "log_every": 50, "eval_samples": 2000, "resolution": 16},
        "lipschitz": {"runs": [dict(r, correctness=None)
                               for r in t3_runs if r["arm"] == "main" and r["reg"] in lipschitz.LIPSCHITZ_REGS],
                      "readings": {"gan": "logit", "lsgan": "sigmoid", "wgan": "logit"}},
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


def test_render_page_has_eight_sections_and_mechanical_verdicts(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"))
    _fake_sections(opts)
    page = open(render.render_page(opts)).read()
    headers = re.findall(r"^## (\d)\. ", page, re.M)
    assert headers == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert page.count("*Verdict:*") == 8 and page.count("*Wall time:*") == 8
    # Table 3: DAT wins GAN and LSGAN; the WGAN row's None did not learn, so its cell is failed, not counted
    assert "DAT beats no regularization (per loss, FID): **reproduced** (2 of 2 cells better, 0 worse, 0 tie" in page
    assert ("Not counted: failed: the WGAN row's arm without a regularizer did not learn, so the setup cannot test the "
            "method: WGAN loss: DAT vs None (method 300.20 ± 0.16, baseline 300.20 ± 0.16)") in page
    assert "WGAN loss, DAT beats 0-GP (the paper's Fig. 6 point: 0-GP is poor with WGAN): **cannot be judged here**" in page
    assert "300.20 ± 0.16 (#" in page and " †" in page  # the failed columns are marked
    assert "saturated: every run of both arms at the metric's bound 9" in page  # modes covered: 9 of 9 everywhere
    # Figures 4/5: DAT loses the four DCGAN settings; the clipped WGAN cells are inactive
    assert "DAT improves the final FID across settings: **not reproduced at this scale** (0 of 4 cells better, 4 worse" in page
    assert "inactive: DAT's perturbation is 0.001 of the inputs' norm (< 0.01)" in page
    assert "WGAN: the Wasserstein estimate is smaller with DAT: **cannot be judged here**" in page
    assert "(Ours, not the paper's setting: WGAN with a wider clip, where DAT acts)" in page
    assert "Plain DCGAN cannot be trained at lr 2e-3 (Figure 4): **not reproduced at this scale**" in page
    # Figure 1: the claim's K (per unit of gap, fooled examples) up with DAT, the success rate down
    assert "DAT's D needs more attack steps (K per unit of initial gap, fooled examples): **reproduced**" in page
    assert "DAT's D is fooled less often (the attack's success rate): **reproduced**" in page
    # Figure 3: DAT (reference) is inactive everywhere; DAT (paper)'s cells tie or saturate
    assert "std 0.316, balanced mixture: DAT (reference) fits faster and better than GAN: **cannot be judged here**" in page
    assert "std 0.316, balanced mixture: DAT (paper) fits faster and better than GAN: **not shown**" in page
    # the summary carries the scope and the kinds of cells not counted
    assert re.search(r"\| 4\.1 \| DAT beats no regularization \(per loss, FID\) \| digits at 16x16, the digits "
                     r"classifier, .*\| 1 failed \|", page)
    assert "the runs 2026-12-06 20:00 UTC" not in page and "runs 2026-12-06 20:00 UTC, code abc" in page
    assert "1.25x" in page and "1.50x" in page  # the cost ratios
    for png in ("table3.png", "table3_curves.png", "figures45.png", "lipschitz.png", "pilot.png"):
        assert os.path.getsize(tmp_path / "results" / png) > 1000
    assert "10.20 ± 0.16 (#3)" in page  # None's mean ± sample std (ddof 1) over its 5 seeds, rank 3 of the row


def test_readme_table_comes_from_the_page(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"))
    _fake_sections(opts)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{render.README_START}\nold\n{render.README_END}\n\nafter\n")
    opts.readme = str(readme)
    page = open(render.render_page(opts)).read()
    text = readme.read_text()
    assert "old" not in text and text.endswith("\nafter\n")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == page.count("\n| 2.") + page.count("\n| 3.") + page.count("\n| 4.") + page.count("\n| 5.") \
        + page.count("\n| 6.")  # one row per claim of the page
    assert any(r.startswith("| DAT beats no regularization (per loss, FID) | **reproduced** (2/0/0 of 2") for r in rows)
    with pytest.raises(ValueError, match="no results-table markers"):
        render.update_readme(str(tmp_path / "results.md"), ["x"])


def test_render_without_sections_says_not_run(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path))
    page = open(render.render_page(opts)).read()
    assert page.count("Not run yet.") == 8
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
    assert "## 9. Extra claim" in page and "*Claim:* Something the paper says." in page
    assert f"*Here:* `python bin/results.py --out_dir={tmp_path} --sections=extra`" in page
    assert "extra body 3" in page and "- extra verdict line" in page
    assert "| 9 | Extra claim | | | | reproduced | |" in page
    assert page.count("Not run yet.") == 8  # the eight real sections, not run here
    monkeypatch.undo()
    assert "Extra claim" not in open(render.render_page(opts)).read()
    with pytest.raises(ValueError, match="'extra'"):
        study.run_sections(opts, ["extra"])


def test_registry_points_at_the_section_modules():
    from dat_study import cost, figure3, figures45

    modules = {"pilot": pilot, "figure3": figure3, "figure1": figure1, "table3": table3, "figures45": figures45,
               "lipschitz": lipschitz, "cost": cost, "tables12": tables12}
    assert list(study.SECTIONS) == list(modules)  # page order
    for name, section in study.SECTIONS.items():
        assert section.run is modules[name].run_section and section.markdown is modules[name].section_markdown
        assert section.claim == paper.CLAIMS[name]


def _study_imports():
    """``{module: {study modules it imports}}`` over every import statement, lazy ones included."""
    import ast

    folder = os.path.join(ROOT, "dat_study")
    names = {f[:-3] for f in os.listdir(folder) if f.endswith(".py") and f != "__init__.py"}
    graph = {}
    for name in names:
        deps = set()
        for node in ast.walk(ast.parse(open(os.path.join(folder, name + ".py")).read())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "dat_study" or (node.level == 1 and not node.module):
                    deps |= {a.name for a in node.names}
                elif node.module.startswith("dat_study."):
                    deps.add(node.module.split(".")[1])
                elif node.level == 1:
                    deps.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("dat_study.")}
        graph[name] = deps & names
    return graph


def test_study_package_has_no_import_cycle_and_imports_one_way():
    graph = _study_imports()
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
    from dat_study.figure3 import Figure3Options

    assert Figure3Options().out_dir == os.path.join("runs", "figure3")
    assert figure1.Figure1Options().out_dir == os.path.join("runs", "figure1")


def test_the_study_trains_and_attacks_figure1_in_its_own_folders(tmp_path):
    full_opts = study.StudyOptions(out_dir=str(tmp_path / "docs"), runs_dir=str(tmp_path / "runs"))
    _write_pilot(full_opts, budgets={"figure1": 4000})
    full = figure1.section_reproduction(full_opts).validate()
    assert (full.out_dir, full.runs_dir) == (str(tmp_path / "docs" / "results" / "figure1"),
                                             str(tmp_path / "runs" / "figure1"))
    assert (full.train_seeds, full.n_iter, full.resolution, full.step_sizes) == ((0, 1, 2, 3, 4), 4000, 32,
                                                                                figure1.STEP_SIZES)
    specs = figure1.train_specs(full)
    assert len(specs) == 10 and all(s.curve_every == 200 and s.final_eval for s in specs)
    cfg = TrainConfig(**dict(specs[0].overrides)).validate()
    assert (cfg.d_batch_norm, cfg.n_iter, cfg.log_every) == (False, 4000, 200)
    quick_opts = study.quick_options(out_dir=str(tmp_path / "q"), runs_dir=str(tmp_path / "qruns"))
    _write_pilot(quick_opts, budgets={"figure1": 40})
    quick = figure1.section_reproduction(quick_opts).validate()
    runs = [c["run_dir"] for c in figure1.train_configs(quick)]
    assert len(runs) == 2 and all(r.startswith(str(tmp_path / "qruns")) for r in runs)
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


def test_committed_sections_pair_every_cell_by_seed_and_store_curves():
    # the stored JSON behind docs/results.md keeps the seed of every value the verdicts pair, and every run its
    # curve, date and code version (issue 19); a section not rerun yet for this edition is absent, not stale
    opts = study.StudyOptions(out_dir=os.path.join(ROOT, "docs"))
    present = [name for name in ("table3", "figures45", "lipschitz") if common.load_section(opts, name)]
    for name in present:
        module = {"table3": table3, "figures45": figures45, "lipschitz": lipschitz}[name]
        runs = common.load_section(opts, name)["data"]["runs"]
        cells = module.comparisons(runs)
        assert cells and all(c.seeds or c.undefined_seeds for c in cells.values())  # paired by seed, or dropped by it
        if name != "lipschitz":
            assert all(r["curve"] and r.get("date") and r.get("code_version") for r in runs)
    assert common.load_section(opts, "pilot"), "the budgets of every section come from the committed pilot"


def test_every_file_a_committed_section_points_to_exists():
    opts = study.StudyOptions(out_dir=os.path.join(ROOT, "docs"))
    f1 = common.load_section(opts, "figure1")
    if f1:
        results = f1["data"]["results"]
        path = results if os.path.isabs(results) else os.path.join(ROOT, results)
        assert os.path.isfile(path) and os.path.isfile(os.path.join(os.path.dirname(path), figure1.TABLES))
        lines = figure1.read_results(path)
        assert lines and all(len(line["per_example"]["gap0"]) == line["num"] for line in lines)
    page = open(os.path.join(ROOT, "docs", "results.md")).read()
    links = re.findall(r"\]\((results/[^)]+)\)", page)
    assert links
    for link in links:
        assert os.path.isfile(os.path.join(ROOT, "docs", link)), link


def test_the_committed_readme_table_is_the_pages_and_reading_it_draws_nothing():
    opts = study.StudyOptions(out_dir=os.path.join(ROOT, "docs"))
    text = open(os.path.join(ROOT, "README.md")).read()
    block = text.split(render.README_START, 1)[1].split(render.README_END, 1)[0].strip().splitlines()
    plots = {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(opts.artefacts, "*.png"))}
    assert block == render.readme_table(opts)
    assert plots and {p: os.stat(p).st_mtime_ns for p in plots} == plots  # the committed plots are not redrawn


def test_the_pilot_runs_in_passes_and_keeps_the_stored_families(tmp_path, monkeypatch):
    opts = study.quick_options(out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"),
                               configs_dir=os.path.join(ROOT, "configs"))
    _write_pilot(opts, budgets={"figure1": 40})
    trained = []

    def fake_run(fn, jobs, workers, progress=None):
        trained.extend(jobs)
        rows = [{"step": s, "fid_train": 24.0} for s in (15, 30, 45, 60)]  # flat: the grid's smallest budget
        return [{"config": {"n_iter": 60}, "logs": [], "curve": rows, "final": {"fid_train": 24.0, "is": 6.0},
                 "diverged_at": None, "seconds": 1.0, "reused": False} for _ in jobs]

    monkeypatch.setattr(pilot, "map_processes", fake_run)
    data = pilot.run_section(dataclasses.replace(opts, pilot_sections=("table3",)))
    assert all(os.path.basename(s.run_dir).startswith("table3_") for s in trained)  # only Table 3's families
    assert len(trained) == 5 * len(pilot.TABLE3_PILOT_REGS)
    stored = common.load_section(opts, "pilot")["data"]["families"]
    assert set(data["families"]) == set(stored)  # the other families kept from the stored pilot
    assert data["families"]["figure1"]["budget"] == 40  # untouched
    assert data["families"]["table3_gan_logit"]["budget"] == 20  # re-decided from this pass's curves (stored: 2000)
    with pytest.raises(ValueError, match="pilot_sections \\['tabel3'\\] not allowed"):
        pilot.run_section(dataclasses.replace(opts, pilot_sections=("tabel3",)))


def _reported_run_dirs(opts, name, data) -> list:
    """The run folders (relative to the runs folder) behind every run a stored section reports."""
    if name == "figures45":
        specs = figures45.run_specs(opts)
        return [dict(specs[(r["stem"], r["arm"], r["seed"])].overrides)["run_dir"] for r in data["runs"]]
    if name == "table3":
        return [dict(table3._spec(opts, r["arm"], r["row"], r["reading"], r["reg"], r["seed"]).overrides)["run_dir"]
                for r in data["runs"]]
    if name == "lipschitz":  # its own runs: the weight grid and the matched arm (the rest are Table 3's)
        own = data["grid_runs"] + [r for r in data["runs"] if r["reg"] == lipschitz.MATCHED
                                   and r["weight"] != lipschitz.FLAGFILE_WEIGHT]
        return [dict(lipschitz._grid_spec(opts, r["row"], data["readings"][r["row"]], r["weight"],
                                          r["seed"]).overrides)["run_dir"] for r in own]
    if name == "figure1":
        return list(data["code_versions"])
    if name == "pilot":  # its digits families (the mixtures' runs are small and not archived)
        return [arm["run_dir"] for fam in data["families"].values() if fam["kind"] == "digits"
                for arm in fam["arms"].values()]
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["pilot", "figures45", "table3", "lipschitz", "figure1"])
def test_every_run_a_committed_section_reports_is_in_the_committed_archive(name):
    # a reader can check any cell against its run, and a fresh clone resumes the study without retraining
    from dat_study import archive

    opts = study.StudyOptions(out_dir=os.path.join(ROOT, "docs"))
    sec = common.load_section(opts, name)
    if sec is None:
        pytest.skip(f"the {name} section is not committed yet")
    dirs = _reported_run_dirs(opts, name, sec["data"])
    assert dirs
    missing = [d for d in dirs
               if not os.path.isfile(os.path.join(archive.archive_dir(opts), archive.summary_of(opts, d)))]
    assert not missing, f"{len(missing)} of {len(dirs)} not archived: {missing[:3]}"


def test_progress_lines_leave_reused_runs_out_of_the_time_left(capsys, monkeypatch):
    import time

    from dat_study.parallel import map_processes

    # Two stored results (no time) then three trained ones: the rate comes from the trained runs only.
    results = [{"reused": True}, {"reused": True}, {"reused": False}, {"reused": False}, {"reused": False}]
    clock = iter([0.0, 0.0, 0.0, 60.0, 120.0, 120.0])
    monkeypatch.setattr(time, "time", lambda: next(clock))
    map_processes(lambda r: r, results, workers=1, progress=common.progress("table3"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("1/5 done (1 reused), 0.0 min elapsed, time left known after the first trained run")
    assert " reused; " in lines[1] and " finished; " in lines[2]
    assert lines[3].endswith("4/5 done (2 reused), 2.0 min elapsed, about 1.0 min left")  # 120 s / 2 trained x 1
    assert lines[4].endswith("5/5 done (2 reused), 2.0 min elapsed, about 0.0 min left")


def test_a_mixture_arm_with_no_sample_near_a_mode_did_not_learn_and_leaves_the_budget_to_the_others(tmp_path):
    grid, cap = [2000, 4000, 6000, 8000, 10000], 10000
    flat = [{"step": s, "mode_mass_error": 0.1} for s in range(500, cap + 1, 500)]  # slowed from the start
    lost = [{"step": s, "mode_mass_error": 0.75 if s == 500 else None} for s in range(500, cap + 1, 500)]
    fam = {"title": "Figure 3, std 0.1, imbalanced", "section": "figure3", "kind": "mixture", "cap": cap,
           "grid": grid, "seed": 0, "arms": {"none": {"curve": flat, "final": {"mode_mass_error": 0.1}},
                                             "dat": {"curve": lost, "final": {"mode_mass_error": None}}}}
    fam.update(pilot.decide_budget(fam))
    assert fam["learned"] == {"none": True, "dat": False} and fam["rule_arms"] == ["none"]
    assert fam["budget"] == 2000 and not fam["capped"]  # from None's flat curve alone
    opts = study.quick_options(out_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"))
    lines, _, _ = pilot.section_markdown(opts, {"data": {"families": {"f": fam}, "readings": {}, "ours": None}})
    row = next(line for line in lines if line.startswith("| Figure 3, std 0.1, imbalanced |"))
    assert "dat: no sample near a mode (mass error undefined)" in row and row.endswith("| dat |")
    assert os.path.isfile(os.path.join(opts.artefacts, "pilot.png"))


def test_the_pilot_s_time_is_the_sum_of_its_runs_not_the_last_pass():
    fams = {"a": {"arms": {"none": {"seconds": 60.0}, "dat": {"seconds": 120.0}}},
            "b": {"arms": {"none": {"seconds": 30.0}, "dat": {}}}}
    seconds, note = pilot.wall_time({"seconds": 5.0, "data": {"families": fams}})
    assert seconds == 210.0 and "the sum of its 3 runs' own training times" in note and "1 without a time" in note
    assert pilot.wall_time({"seconds": 5.0, "data": {"families": {"a": {"arms": {"none": {}}}}}}) == (5.0, "")


def test_a_resumed_section_s_time_is_the_sum_of_its_runs_not_the_last_pass():
    runs = [{"seconds": 100.0, "reused": True}, {"seconds": 140.0, "reused": True}, {"seconds": 200.0, "reused": False}]
    seconds, note = study.stored_wall_time({"seconds": 230.0, "data": {"runs": runs}})
    assert seconds == 440.0
    assert "the sum of its 3 runs' own training times" in note and "last pass took 3.8 min and reused 2" in note
    fresh = [dict(r, reused=False) for r in runs]  # one pass trained them all: its wall time is the section's time
    assert study.stored_wall_time({"seconds": 230.0, "data": {"runs": fresh}}) == (230.0, "")
    assert study.stored_wall_time({"seconds": 7.0, "data": {"variants": []}}) == (7.0, "")
