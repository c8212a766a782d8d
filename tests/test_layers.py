"""Layers point one way: ``segments/`` (store, loader, rows) never imports ``server/``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted((ROOT / "segments").rglob("*.py"))


def imported(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", [pytest.param(p, id=str(p.relative_to(ROOT))) for p in MODULES])
def test_segments_imports_nothing_from_server(path: Path) -> None:
    names = imported(ast.parse(path.read_text(encoding="utf-8")))
    assert [n for n in names if n == "server" or n.startswith("server.")] == []


def test_the_check_sees_lazy_imports() -> None:
    tree = ast.parse("def f():\n    from server.x import y\n    import server.z\n")
    assert imported(tree) == ["server.x", "server.z"]
