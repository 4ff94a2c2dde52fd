"""The versions setup.py allows are the ones CI tests and the docs name (issue 20).

.ci/run installs TensorFlow and Keras at exactly setup.py's floors for the fast tests, so the floors must be
full versions; the README's line about versions, docs/design.md and the Keras adapter must name the same ones.
"""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


def _range(name):
    m = re.search(r'"%s>=([0-9.]+),<([0-9.]+)"' % name, _read("setup.py"))
    assert m, f"setup.py must give {name} as a >=floor,<cap range"
    return m.group(1), m.group(2)


def test_floors_are_full_versions_that_ci_installs_for_the_fast_tests():
    ci = _read(".ci", "run")
    for name in ("tensorflow", "keras"):
        floor, _ = _range(name)
        assert re.fullmatch(r"\d+\.\d+\.\d+", floor), f"{name}'s floor {floor} must be X.Y.Z (CI installs it as ==)"
    assert 'python -m pytest -q -n 2 --dist loadfile -m "not slow" -k "not cli" tests' in ci
    assert "setup.py" in ci and '"%s>=' in ci  # the floors are read from setup.py, not repeated


def test_readme_and_design_name_the_floors():
    tf_floor, tf_cap = _range("tensorflow")
    keras_floor, _ = _range("keras")
    tf_last = f"{tf_cap.split('.')[0]}.{int(tf_cap.split('.')[1]) - 1}"  # <2.22 -> 2.21
    line = next(line for line in _read("README.md").splitlines() if line.startswith("Python >= "))
    tf_minor, keras_minor = ".".join(tf_floor.split(".")[:2]), ".".join(keras_floor.split(".")[:2])
    assert f"TensorFlow {tf_minor}–{tf_last}" in line and f"Keras {keras_minor} or newer" in line, line
    readme = _read("README.md")
    assert f"TensorFlow {tf_floor}, Keras {keras_floor}" in readme
    design = _read("docs", "design.md")
    assert f"TensorFlow\n{tf_floor} with Keras {keras_floor}" in design or f"TensorFlow {tf_floor} with Keras {keras_floor}" in design


def test_the_keras_adapter_was_checked_on_the_floor():
    from dat_tf import keras_adapter

    keras_floor, _ = _range("keras")
    assert keras_adapter.CHECKED_KERAS_VERSIONS[0] == keras_floor
