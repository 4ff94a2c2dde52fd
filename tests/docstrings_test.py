"""Every example in a docstring of the two packages runs and prints what it says (the docs cannot drift)."""

import doctest
import importlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _modules_with_examples():
    found = []
    for package in ("dat_tf", "dat_study"):
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    if ">>>" not in f.read():
                        continue
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found.append(module[: -len(".__init__")] if module.endswith(".__init__") else module)
    return sorted(found)


MODULES = _modules_with_examples()


def test_the_packages_have_examples_to_check():
    # the discovery itself: a rename that hid every module would make the test below vacuous
    assert {"dat_tf.gan", "dat_tf.regularizers.dat", "dat_study.stats", "dat_study.verdicts"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
    assert result.attempted > 0 or "+SKIP" in open(module.__file__, encoding="utf-8").read(), name
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (run python -m doctest -v)"
