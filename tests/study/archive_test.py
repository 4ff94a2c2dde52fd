"""The study's archive of finished runs: saved as they finish, restored into an empty runs folder, reused."""

import gzip
import json
import os

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
