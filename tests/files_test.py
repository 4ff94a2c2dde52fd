"""dat_tf.files: strict JSON, written whole or not at all."""

import json
import os

import numpy as np
import pytest

from dat_tf.files import atomic_writer, dumps, strict, write_json_atomic, write_jsonl_atomic, write_text_atomic


def test_strict_json_writes_non_finite_numbers_as_null(tmp_path):
    obj = {"a": float("nan"), "b": [1.5, float("inf"), -float("inf")], "c": (np.float32(2.5), np.int64(3)),
           "d": {"e": np.array([1.0, np.nan])}, "f": np.bool_(True), "g": None, "h": "nan"}
    path = write_json_atomic(tmp_path / "r.json", obj, indent=1, sort_keys=True)
    text = open(path).read()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard token {c}")) == {
        "a": None, "b": [1.5, None, None], "c": [2.5, 3], "d": {"e": [1.0, None]}, "f": True, "g": None, "h": "nan"}
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True)  # the layout asked for, no newline
    assert strict(float("nan")) is None and strict(-0.0) == 0.0 and strict([np.inf]) == [None]
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_jsonl_one_object_per_line(tmp_path):
    rows = [{"k": 1, "v": float("nan")}, {"k": 2, "v": 0.5}]
    path = write_jsonl_atomic(tmp_path / "r.jsonl", rows)
    assert open(path).read() == '{"k": 1, "v": null}\n{"k": 2, "v": 0.5}\n'


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "r.json"
    write_text_atomic(path, "old")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_writer(path) as f:
            f.write("half of the new")
            raise RuntimeError("midway")
    assert path.read_text() == "old"
    with pytest.raises(TypeError):
        write_json_atomic(path, {"x": object()})  # fails before anything is written
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["r.json"]


def test_binary_mode_permissions_and_errors(tmp_path):
    with atomic_writer(tmp_path / "a.npz", "wb") as f:
        np.savez(f, x=np.arange(3))
    np.testing.assert_array_equal(np.load(tmp_path / "a.npz")["x"], [0, 1, 2])
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "a.npz").st_mode & 0o777 == 0o666 & ~umask  # as open() would create it
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_text_atomic(tmp_path / "missing" / "r.json", "x")
    with pytest.raises(ValueError, match="mode must be"):
        with atomic_writer(tmp_path / "b", "a"):
            pass
