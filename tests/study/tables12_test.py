"""Tables 1/2 "not run here": the paper's numbers as typed, the projection rule, the page."""

import os
import re

import pytest

from dat_study import common, paper, study, tables12

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAPER = os.path.join(os.path.dirname(ROOT), "shared", "paper", "direct_adversarial_training.txt")


def test_paper_table2_spot_checks():
    """Hand-read from the paper's Table 2 (model order SNGAN, -DAT, SSGAN, -DAT, InfoMaxGAN, -DAT)."""
    t = paper.PAPER_TABLE2
    assert t["fid"]["cifar10"]["train"] == (20.05, 17.93, 16.75, 15.34, 17.71, 17.69)
    assert t["fid"]["lsun_bedroom"]["test"][5] == 86.17
    assert t["kid"]["stl10"]["test"][2] == 0.0403
    assert t["is"]["tinyimagenet"][5] == 9.18
    assert t["is"]["lsun_bedroom"] == (None,) * 6  # the paper shows no IS for LSUN


@pytest.mark.skipif(not os.path.isfile(PAPER), reason="the paper's text is outside the repository")
def test_paper_table2_matches_the_paper_text():
    """Every typed row appears in the paper's Table 2, in its order (FID and KID by split, then IS)."""
    text = open(PAPER).read()
    table = text[text.index("FID, KID, and IS scores of SOTA models"):text.index("Table 3\n\nFID scores")]
    numbers = [float(x) for x in re.findall(r"\b\d+\.\d+\b", table)]
    expect = []
    for metric in ("fid", "kid"):
        for dataset in ("lsun_bedroom", "tinyimagenet", "stl10", "cifar100", "cifar10"):
            for split in ("train", "test"):
                expect += list(paper.PAPER_TABLE2[metric][dataset][split])
    for dataset in ("tinyimagenet", "stl10", "cifar100", "cifar10"):
        expect += list(paper.PAPER_TABLE2["is"][dataset])
    assert numbers == expect


def test_projection_is_seconds_per_iteration_times_iterations():
    assert tables12.projected_hours(3.6, 100_000) == pytest.approx(100.0)  # 3.6 s x 100k = 360,000 s = 100 h
    assert tables12.projected_hours(0.5, 7200) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="seconds_per_iteration must be > 0, got 0"):
        tables12.projected_hours(0)


def _cost(opts, nets, **extra):
    data = {"source": "x", "date": "2026-01-02 03:04 UTC", "command": "python benchmarks/run_all.py", "nets": nets}
    data.update(extra)
    common.write_section(opts, "cost", {"section": "cost", "seconds": 1.0, "date": "d", "quick": False,
                                        "machine": "2 CPU cores (test)", "data": data})


def test_section_projects_only_measured_nets(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="run the cost section first"):
        tables12.run_section(opts)
    _cost(opts, {"sngan32": {"seconds": {"none": 15.0, "dat": 18.0}}})
    data = tables12.run_section(opts)
    rows = {r["flagfile"]: r for r in data["rows"]}
    assert len(rows) == 3 * 5 * 3
    assert rows["configs/sngan_cifar10.flags"]["cpu_hours"] == pytest.approx(15.0 * 100_000 / 3600)
    assert rows["configs/sngan_cifar100_dat.flags"]["cpu_hours"] == pytest.approx(18.0 * 100_000 / 3600)
    assert rows["configs/sngan_cifar10_dat_paper.flags"]["cpu_hours"] == pytest.approx(500.0)
    # another net or resolution was not timed: not measured, not extrapolated
    assert rows["configs/ssgan_cifar10.flags"]["cpu_hours"] is None
    assert rows["configs/sngan_stl10.flags"]["cpu_note"] == "not measured"
    assert all(r["gpu_hours"] is None for r in rows.values())  # no GPU timing stored
    for r in rows.values():
        assert os.path.isfile(os.path.join(ROOT, r["flagfile"]))


@pytest.mark.parametrize("model", ["sngan", "ssgan", "infomaxgan"])
def test_the_page_names_the_clip_the_flagfiles_use(model):
    from dat_tf.train.config import TrainConfig

    cfg = TrainConfig.from_flagfile(os.path.join(ROOT, "configs", f"{model}_cifar10_dat.flags"))
    assert cfg.reg_args["clip"] == tables12.REFERENCE_CLIP[model]


def test_page_shows_commands_paper_numbers_and_projection(tmp_path):
    opts = study.StudyOptions(out_dir=str(tmp_path))
    _cost(opts, {"sngan32": {"seconds": {"none": 15.0, "dat": 18.0}}},
          gpu_nets={"sngan32": {"seconds": {"none": 0.36, "dat": 0.72}}})
    sec = {"seconds": 0.1, "date": "x", "machine": "m", "data": tables12.run_section(opts)}
    lines, claims, overall = tables12.section_markdown(opts, sec)
    page = "\n".join(lines)
    assert overall == "not run here"
    for model in ("sngan", "ssgan", "infomaxgan"):
        for sfx in ("", "_dat", "_dat_paper"):
            assert f"--flagfile=configs/{model}_<dataset>{sfx}.flags" in page
    assert "ssgan_<dataset>_dat.flags   # DAT, reference variant (the authors' code), --dat_clip=both" in page
    assert "sngan_<dataset>_dat.flags   # DAT, reference variant (the authors' code), --dat_clip=fake" in page
    assert "| SNGAN | CIFAR-10 | 20.05 → 17.93 | 24.19 → 22.46 | 0.0149 → 0.0133 | 0.0150 → 0.0142 | 7.84 → 7.97 | " \
           "417 h (17.4 days) / 500 h (20.8 days) / 500 h (20.8 days) | 10.0 h / 20.0 h / 20.0 h |" in page
    assert "| InfoMaxGAN | LSUN-Bedroom | 35.69 → 34.21 |" in page and "| - | not measured" in page
    assert "projection" in page and "measured 2026-01-02 03:04 UTC" in page
