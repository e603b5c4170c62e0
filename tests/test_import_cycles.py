"""No import cycles in gateway_ops: a module's imports — at the top or inside a function — never
lead back to it (imports only for type checkers excepted). Pure code first, I/O at the edges."""
from __future__ import annotations

import ast
from pathlib import Path

import gateway_ops

PACKAGE = Path(gateway_ops.__file__).parent


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """{module: modules of the same package it imports}. ``from pkg import sub`` counts as an
    import of ``pkg.sub`` only, not of ``pkg/__init__``'s other imports."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here.split(".")[: len(here.split(".")) - node.level + 1] if node.level else []
                origin = ".".join(base + ([node.module] if node.module else []))
                subs = [f"{origin}.{alias.name}" for alias in node.names]
                targets = [sub for sub in subs if sub in modules] or [origin]
            else:
                continue
            graph[name] |= {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_gateway_ops_has_no_import_cycles():
    assert cycles(import_graph(PACKAGE, "gateway_ops")) == []


def test_the_check_finds_a_cycle_even_through_a_function_level_import(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "records.py").write_text("from .stats import summarize\n")
    (tmp_path / "stats.py").write_text("def summarize():\n    from . import records\n")
    (tmp_path / "plots.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .stats import x\n")
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.records", "pkg.stats"]]
