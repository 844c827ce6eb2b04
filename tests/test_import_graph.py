"""The project's import graph, read from the source: no cycle among modules, and the packages layered.

Every ``import`` of a project package counts, at module level or inside a function (a function-local import
is still a dependency; it only runs later).  The layers, bottom up: ``safeio``; ``tabular`` and
``proofs_check``; ``deep``; ``meharl``.  A package imports nothing from a layer above it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("safeio", "tabular", "proofs_check", "deep", "meharl")
#: package -> the project packages it must not import
FORBIDDEN = {"safeio": {"tabular", "proofs_check", "deep", "meharl"},
             "tabular": {"proofs_check", "deep", "meharl"},
             "proofs_check": {"deep", "meharl"},
             "deep": {"meharl"}}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT, packages=PACKAGES) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of ``packages`` under ``root``."""
    return {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, modules) -> set[str]:
    """The project modules that module ``name`` (file ``path``) imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # ``import a.b.c`` of a module: its nearest project module
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, set[str]]:
    modules = project_modules(root, packages)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the list of its modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    top = lambda m: m.split(".")[0]  # noqa: E731
    return sorted(f"{a} imports {b}" for a, deps in graph.items() for b in deps
                  if top(b) in FORBIDDEN.get(top(a), ()))


def test_the_graph_is_read():
    graph = import_graph()
    assert "deep.run.rundir" in graph and "safeio" in graph
    assert "deep.algos.base" in graph["deep.algos"]            # from .base import ... in a package
    assert "tabular" in graph["deep.run.evaluate"]                  # import tabular


def test_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_packages_are_layered():
    assert layer_violations(import_graph()) == []


def test_a_cycle_is_found():
    """The check can fail: a synthetic graph, and a copy of a package with a function-local import added."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("local", [True, False])
def test_a_cycle_in_source_is_found(tmp_path, local):
    pkg = tmp_path / "deep"
    (pkg / "run").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "config.py").write_text("from deep.run import rundir\n" if not local else
                                   "def f():\n    from .run.rundir import Run\n    return Run\n")
    (pkg / "run" / "__init__.py").write_text("")
    (pkg / "run" / "rundir.py").write_text("from ..config import f\n")
    (tmp_path / "meharl").mkdir()
    (tmp_path / "meharl" / "__init__.py").write_text("")
    graph = import_graph(tmp_path, ("deep", "meharl"))
    assert find_cycle(graph) == ["deep.config", "deep.run.rundir", "deep.config"]
    (pkg / "envs.py").write_text("import meharl\n")
    assert layer_violations(import_graph(tmp_path, ("deep", "meharl"))) == ["deep.envs imports meharl"]
