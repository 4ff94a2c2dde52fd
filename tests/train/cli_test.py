"""dat_tf/train/cli.py reads ``--regularizer`` before the flags exist (a user's class brings its own flags): it
finds a flagfile by bare name as the parse does, so both read the same file."""

from absl import flags

from dat_tf.train import cli


def test_the_early_regularizer_look_reads_a_packaged_flagfile_by_bare_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no toy_balanced_dat here: the packaged one
    values = flags.FlagValues()
    assert cli._regularizer_in(["dat-train", "--flagfile=toy_balanced_dat"], values) == "dat"
    assert cli._regularizer_in(["dat-train", "--flagfile", "toy_balanced_dat", "--regularizer=gp"], values) == "gp"
    (tmp_path / "toy_balanced_dat.flags").write_text("--regularizer=my_module:MyReg\n")  # a file here wins
    assert cli._regularizer_in(["dat-train", "--flagfile=toy_balanced_dat.flags"], values) == "my_module:MyReg"
    assert cli._regularizer_in(["dat-train", "--flagfile=no_such_name"], values) is None  # the parse reports it
