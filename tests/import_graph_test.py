"""The packages' import graph, lazy (function-level) imports included, has no cycle, and goes one way.

The library (``dat_tf``) never imports the reproduction study (``dat_study``, installed beside it), so the
study is outside the core: it can change, or be dropped, without touching what a Keras user installs.

Edges are read from the source with ``ast`` (nothing is imported): ``import a.b``
gives an edge to ``a.b``; ``from a.b import c`` to ``a.b.c`` where ``c`` is a
module, else to ``a.b``.  The root ``dat_tf/__init__.py`` is the public facade and is left out
as a target (every ``dat_tf.x`` import runs it first, which Python handles).
"""

import ast
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = (os.path.join(ROOT, "dat_tf"), os.path.join(ROOT, "dat_study"))


def _modules():
    mods = {}
    for folder, _, files in (entry for package in PACKAGES for entry in os.walk(package)):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
            mods[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return mods


def import_graph():
    mods = _modules()
    graph = {}
    for mod, path in mods.items():
        is_pkg = path.endswith("__init__.py")
        edges = set()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative import
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                subs = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in mods]
                # ``from pkg import submodule`` needs the submodule, not pkg's __init__ (which a parent
                # package has run already); importing a plain name needs ``source`` itself.
                targets = subs + ([source] if len(subs) < len(node.names) else [])
            for t in targets:
                if t in mods and t != "dat_tf" and t != mod:
                    edges.add(t)
        graph[mod] = edges
    return graph


def find_cycle(graph):
    """One cycle as a list of modules, or None (iterative DFS with colours)."""
    colour = dict.fromkeys(graph, 0)
    for start in graph:
        if colour[start]:
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour[child] == 1:
                return path[path.index(child):] + [child]
            elif colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_package_import_graph_has_no_cycle():
    graph = import_graph()
    assert "dat_tf.gan" in graph and "dat_tf.regularizers.dat" in graph and "dat_study.table3" in graph
    assert "dat_tf.regularizers.base" in graph["dat_tf.regularizers.dat"]  # edges are really read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_core_does_not_import_the_outer_layers():
    """losses, critic, replicas, regularizers and gan never import train/, experiments/ or bin."""
    graph = import_graph()
    core = [m for m in graph if m in ("dat_tf.losses", "dat_tf.critic", "dat_tf.replicas", "dat_tf.gan",
                                      "dat_tf.hparams") or m.startswith("dat_tf.regularizers")]
    for mod in core:
        outer = [t for t in graph[mod] if t.startswith(("dat_tf.train", "dat_study", "dat_tf.metrics"))]
        assert not outer, f"{mod} imports {outer}"


def test_the_library_never_imports_the_study():
    graph = import_graph()
    assert "dat_tf.files" in graph["dat_study.runner"]  # the study does import the library
    wrong = {m: sorted(t for t in ts if t.startswith("dat_study")) for m, ts in graph.items() if m.startswith("dat_tf")}
    assert not any(wrong.values()), {m: t for m, t in wrong.items() if t}


def test_nothing_refers_to_files_outside_the_repository():
    pattern = re.compile(r"\.\./shared|DESIGN\.md|/work/")
    bad = []
    for path in _modules().values():
        for lineno, line in enumerate(open(path, encoding="utf-8"), 1):
            if pattern.search(line):
                bad.append(f"{os.path.relpath(path, ROOT)}:{lineno}: {line.strip()}")
    assert not bad, "\n".join(bad)
