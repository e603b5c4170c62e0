"""The hierarchy drawn in gateway_ops/exceptions.py is the real one: every GatewayOpsError subclass
in the package is drawn under its real parent, in its real module."""
from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import gateway_ops
from gateway_ops import exceptions
from gateway_ops.exceptions import GatewayOpsError

#: "    │   └── PortInUseError      [module] text": the class name, where it starts, and its module.
LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)(?:\s+\[(?P<module>[\w.]+)\])?")


def drawn(doc: str) -> dict[str, tuple[str | None, str | None]]:
    """{class: (parent, module)} from a drawing whose levels are 4 columns apart; a class drawn
    without a module lives in its parent's (None: the module that holds the drawing)."""
    tree: dict[str, tuple[str | None, str | None]] = {}
    path: list[tuple[str, str | None]] = []
    for line in doc.split("::", 1)[1].splitlines():
        match = LINE.match(line[4:]) if line.startswith("    ") else None
        if not match:
            if tree:
                break
            continue
        level = len(match["indent"]) // 4
        parent, parent_module = path[level - 1] if level else (None, None)
        module = match["module"] or parent_module
        path[level:] = [(match["name"], module)]
        tree[match["name"]] = (parent, module)
    return tree


def real(root: type) -> dict[str, tuple[str | None, str]]:
    """{class: (parent, module)} for ``root`` and every subclass, once every module is imported."""
    for module in pkgutil.walk_packages(gateway_ops.__path__, "gateway_ops."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    tree: dict[str, tuple[str | None, str]] = {root.__name__: (None, root.__module__)}
    pending: list[type] = [root]
    while pending:
        cls = pending.pop()
        sub: type
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("gateway_ops."):
                tree[sub.__name__] = (cls.__name__, sub.__module__)
                pending.append(sub)
    return tree


def problems(doc: str, actual: dict[str, tuple[str | None, str]], home: str) -> list[str]:
    """What the drawing gets wrong: missing or extra classes, wrong parents, wrong modules
    (``home``: the module whose docstring holds the drawing; the root may live elsewhere)."""
    shown = drawn(doc)
    found = [f"{name} is not drawn" for name in sorted(set(actual) - set(shown))]
    found += [f"{name} is drawn but does not exist" for name in sorted(set(shown) - set(actual))]
    for name in sorted(set(shown) & set(actual)):
        (parent, module), (real_parent, real_module) = shown[name], actual[name]
        if parent != real_parent:
            found.append(f"{name} is drawn under {parent}, but its parent is {real_parent}")
        where = f"gateway_ops.{module}" if module else home
        if parent is not None and where != real_module:
            found.append(f"{name} is drawn in {where}, but lives in {real_module}")
    return found


def test_the_package_hierarchy_is_drawn_whole_and_right():
    assert problems(exceptions.__doc__, real(GatewayOpsError), "gateway_ops.exceptions") == []
    assert len(drawn(exceptions.__doc__)) == 31  # GatewayOpsError and its 30 subclasses


@pytest.mark.parametrize("edit, complaint", [
    (lambda doc: re.sub(r".*AttendeeError.*\n", "", doc), "AttendeeError is not drawn"),
    (lambda doc: doc.replace("│   └── PortInUseError    ", "├── PortInUseError        "),
     "PortInUseError is drawn under GatewayOpsError, but its parent is StackError"),
    (lambda doc: doc.replace("[dashboards.report]", "[dashboards.live]"), "ReportError is drawn in gateway_ops.dashboards.live"),
    (lambda doc: doc.replace("NotebookError", "NotebookFailed"), "NotebookFailed is drawn but does not exist"),
])
def test_the_check_catches_a_drawing_that_drifts(edit, complaint):
    edited = edit(exceptions.__doc__)
    assert edited != exceptions.__doc__
    found = problems(edited, real(GatewayOpsError), "gateway_ops.exceptions")
    assert any(problem.startswith(complaint) for problem in found), found
