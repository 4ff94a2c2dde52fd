"""The study's archive of finished runs: saved as they finish, restored into an empty runs folder, reused."""

import gzip
import json
import os

import pytest

from dat_study import archive, runner
from dat_study.common import StudyOptions


def _opts(tmp_path):
    return StudyOptions(out_dir=str(tmp_path / "docs"), runs_dir=str(tmp_path / "runs"))


def _finish(opts, rel, payload, name=runner.RESULT):
    path = os.path.join(opts.runs_dir, rel, name)
    os.makedirs(os.path.join(opts.runs_dir, rel, "checkpoints"), exist_ok=True)
    with open(os.path.join(opts.runs_dir, rel, "checkpoints", "ckpt-1.index"), "w") as f:
        f.write("weights")  # not archived
    with open(path, "w") as f:
        json.dump(payload, f)
    return path


def test_finished_runs_are_archived_once_and_restored_into_an_empty_runs_folder(tmp_path):
    opts = _opts(tmp_path)
    _finish(opts, "pilot/a_seed0", {"spec": {"x": 1}, "final": {"fid_train": 4.5}})
    _finish(opts, "figure3/std0.1/balanced_dat_seed0", {"job": {"y": 2}}, name="figure3_result.json")
    os.makedirs(os.path.join(opts.runs_dir, "pilot", "killed_seed0", "logs"))  # a run killed midway: no summary
    assert archive.save(opts) == 2
    assert archive.save(opts) == 0  # unchanged: nothing rewritten
    stored = sorted(os.path.relpath(os.path.join(r, f), archive.archive_dir(opts))
                    for r, _, fs in os.walk(archive.archive_dir(opts)) for f in fs)
    assert stored == ["figure3/std0.1/balanced_dat_seed0/figure3_result.json.gz", "pilot/a_seed0/result.json.gz"]
    with gzip.open(os.path.join(archive.archive_dir(opts), stored[1])) as f:
        assert json.load(f)["final"]["fid_train"] == 4.5

    fresh = StudyOptions(out_dir=opts.out_dir, runs_dir=str(tmp_path / "fresh_runs"))  # a new checkout's runs folder
    assert archive.restore(fresh) == 2 and archive.restore(fresh) == 0
    with open(os.path.join(fresh.runs_dir, "pilot", "a_seed0", runner.RESULT)) as f:
        assert json.load(f) == {"spec": {"x": 1}, "final": {"fid_train": 4.5}}


def test_a_run_folder_s_own_summary_wins_over_the_archive_and_a_changed_one_is_archived_again(tmp_path):
    opts = _opts(tmp_path)
    path = _finish(opts, "t/r", {"v": 1})
    archive.save(opts)
    with open(path, "w") as f:
        json.dump({"v": 2}, f)
    assert archive.restore(opts) == 0  # the folder has its own summary
    with open(path) as f:
        assert json.load(f) == {"v": 2}
    assert archive.save(opts) == 1
    with gzip.open(os.path.join(archive.archive_dir(opts), "t", "r", runner.RESULT + ".gz")) as f:
        assert json.load(f) == {"v": 2}


def test_the_same_summary_gives_the_same_archive_bytes(tmp_path):
    # gzip without a timestamp: re-archiving an unchanged run in another session leaves git with nothing to commit
    a, b = _opts(tmp_path / "a"), _opts(tmp_path / "b")
    for o in (a, b):
        _finish(o, "r", {"spec": [1, 2, 3]})
        archive.save(o)
    read = [open(os.path.join(archive.archive_dir(o), "r", runner.RESULT + ".gz"), "rb").read() for o in (a, b)]
    assert read[0] == read[1]


def test_a_restored_result_is_reused_by_the_runner_only_for_the_same_spec(tmp_path):
    opts = _opts(tmp_path)
    run_dir = os.path.join(opts.runs_dir, "pilot", "x_seed0")
    spec = runner.RunSpec.make("configs/toy_balanced.flags", {"run_dir": run_dir, "n_iter": 10})
    _finish(opts, "pilot/x_seed0", {"spec": spec.to_json(), "final": {"fid_train": 1.0}})
    archive.save(opts)
    fresh = StudyOptions(out_dir=opts.out_dir, runs_dir=opts.runs_dir)
    import shutil

    shutil.rmtree(opts.runs_dir)
    archive.restore(fresh)
    assert runner.load_result(spec)["final"]["fid_train"] == 1.0
    other = runner.RunSpec.make("configs/toy_balanced.flags", {"run_dir": run_dir, "n_iter": 20})
    assert runner.load_result(other) is None  # another spec in the same folder trains afresh


def _summary(seed, nan=False):
    logs = [{"step": s, "d_loss": 1.0 / s, "grad_norm_real": float("nan") if nan and s == 20 else 0.1 * s,
             "perturbation_ratio": 0.01} for s in (10, 20, 30)]
    return {"spec": {"overrides": {"run_dir": "unused"}}, "config": {"seed": seed}, "logs": logs,
            "curve": [{"step": 30, "fid_train": 9.0}], "final": {"fid_train": 9.0},
            "correctness": {"dat_max_error": 1e-7, "batches": 2}}


def test_a_section_stores_one_pointer_per_archived_run_s_logs_and_reads_them_back(tmp_path):
    from dat_study import common

    opts = _opts(tmp_path)
    full, nan = _summary(0), _summary(1, nan=True)
    _finish(opts, "table3/a_seed0", full)
    _finish(opts, "table3/a_seed1", nan)
    archive.save(opts)
    cut = ["step", "grad_norm_real"]  # a section that keeps some columns (the lipschitz one)
    records = [
        dict(full, run_dir=os.path.join(opts.runs_dir, "table3", "a_seed0")),
        {"run_dir": os.path.join(opts.runs_dir, "table3", "a_seed1"), "curve": nan["curve"],
         "logs": [{k: row[k] for k in cut} for row in nan["logs"]]},
        dict(full, run_dir=os.path.join(opts.runs_dir, "table3", "a_seed0"),  # differs from its run: kept inline
             logs=[dict(row, d_loss=0.0) for row in full["logs"]]),
        dict(full, run_dir=str(tmp_path / "elsewhere" / "a_seed0")),  # not under the runs folder: kept inline
    ]
    section = {"section": "table3", "data": {"runs": records}}
    path = common.write_section(opts, "table3", section)
    with open(path) as f:
        raw = json.load(f)["data"]["runs"]
    pointer = {archive.POINTER: os.path.join("table3", "a_seed0", runner.RESULT + ".gz")}
    assert raw[0]["logs"] == pointer and raw[0]["correctness"] == pointer
    assert raw[0]["curve"] == full["curve"]  # the curve and final numbers stay in the section
    assert raw[1]["logs"] == {archive.POINTER: os.path.join("table3", "a_seed1", runner.RESULT + ".gz"), "keys": cut}
    assert raw[2]["logs"][0]["d_loss"] == 0.0 and raw[2]["correctness"] == pointer
    assert isinstance(raw[3]["logs"], list) and isinstance(raw[3]["correctness"], dict)
    back = common.load_section(opts, "table3")
    assert json.dumps(back) == json.dumps(section)  # NaN and all

    os.remove(os.path.join(archive.archive_dir(opts), "table3", "a_seed1", runner.RESULT + ".gz"))
    with pytest.raises(FileNotFoundError, match=r"takes a run's logs from .*a_seed1.*which is missing"):
        common.load_section(opts, "table3")


def test_the_committed_sections_keep_no_second_copy_of_an_archived_run_s_logs():
    # the archive (docs/results/runs) holds each run's logs; the section files point to them (one copy)
    from dat_study import common

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    opts = StudyOptions(out_dir=os.path.join(root, "docs"))
    inline, linked = [], 0

    def walk(o):
        nonlocal linked
        if isinstance(o, list):
            for x in o:
                walk(x)
        elif isinstance(o, dict):
            if "run_dir" in o and "logs" in o:
                if isinstance(o["logs"], dict) and archive.POINTER in o["logs"]:
                    linked += 1
                elif o["logs"]:
                    inline.append(o["run_dir"])
            for v in o.values():
                walk(v)

    for name in ("pilot", "figure1", "figures45", "table3", "lipschitz"):
        path = os.path.join(opts.artefacts, name + ".json")
        if os.path.isfile(path):
            with open(path) as f:
                walk(json.load(f))
            assert common.load_section(opts, name)  # every pointer resolves
    assert linked > 0 and not inline, inline[:3]
