"""Every example in a docstring of the two packages runs and prints what it says (the docs cannot drift).

The examples run in a child process: some register a name of their own (a loss, a regularizer, a Keras
serializable), which must not leak into the registries the other tests of this process read.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUNNER = r"""
import doctest, importlib, json, sys
out = {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    r = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
    out[name] = [r.attempted, r.failed]
print("RESULTS " + json.dumps(out))
"""


def _modules_with_examples() -> dict:
    """``{module name: file}`` of every module of the packages with a ``>>>`` example."""
    found = {}
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
                found[module[: -len(".__init__")] if module.endswith(".__init__") else module] = path
    return dict(sorted(found.items()))


def test_the_packages_have_examples_to_check():
    # the discovery itself: a rename that hid every module would make the test below vacuous
    assert {"dat_tf.gan", "dat_tf.regularizers.dat", "dat_study.stats", "dat_study.verdicts"} <= set(
        _modules_with_examples())


def test_docstring_examples():
    modules = _modules_with_examples()
    done = subprocess.run([sys.executable, "-c", RUNNER, *modules], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULTS ")), None)
    assert done.returncode == 0 and line, done.stderr[-3000:]
    results = json.loads(line[len("RESULTS "):])
    failed = {name: f"{f} of {a} failed" for name, (a, f) in results.items() if f}
    assert not failed, f"{failed}: run python -m doctest -v on the module's file to see which example"
    skip_only = [name for name, (a, _) in results.items() if a == 0]
    for name in skip_only:  # a module whose examples are all skipped says so in its source
        with open(modules[name], encoding="utf-8") as f:
            assert "+SKIP" in f.read(), name
    assert sum(a for a, _ in results.values()) > 50
