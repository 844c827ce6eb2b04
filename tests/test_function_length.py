"""No function or method of the project's packages is longer than 100 lines (the clean-house rule: a longer
one is split into named steps).  Counted from ``def`` to its last line, docstring included."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tabular", "deep", "meharl", "proofs_check", "safeio")
LIMIT = 100


def long_functions(root: Path, packages=PACKAGES, limit: int = LIMIT) -> list[str]:
    out = []
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            for n in ast.walk(ast.parse(f.read_text(), str(f))):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > limit:
                    out.append(f"{f.relative_to(root)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)")
    return out


def test_no_function_is_longer_than_100_lines():
    assert long_functions(ROOT) == []


def test_the_check_sees_a_long_function(tmp_path):
    (tmp_path / "pkg").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    (tmp_path / "pkg" / "m.py").write_text(f"class A:\n    def f(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n")
    assert [s.split(" ")[1] for s in long_functions(tmp_path, ("pkg",))] == ["f"]
