"""Which tests are slow, decided from what they use, so `make test-fast` can leave them out.

Two rules, both applied by tests/conftest.py:

* at collection, :func:`marks_for` reads a test's fixtures (``item.fixturenames`` holds every
  fixture it needs, directly or through another fixture: ``gateway_env`` brings ``stack``) and the
  names its own code calls (``run_notebook``, ``sync_playwright``, ``LocalStack``), and the test
  gets the ``stack``, ``notebook`` or ``browser`` marker;
* while a test runs, :func:`mark_for_command` classifies every process it starts (an audit hook
  on ``subprocess.Popen``): a test that starts a Worker, a notebook kernel or a browser without the
  matching marker fails and says which marker it lacks, so a slow test cannot hide in the fast set
  however it starts its processes (a helper, a subprocess of the CLI).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from itertools import pairwise

import pytest

#: the markers, each with what it means (pyproject.toml declares the same three)
SLOW_MARKERS = ("stack", "notebook", "browser")

#: fixtures that start (or need) the local stack; fixtures built on them are in fixturenames too
STACK_FIXTURES = frozenset({"stack", "make_stack"})
#: names whose call in a test's own code means the marker
CALLS = {
    "stack": frozenset({"LocalStack", "local_stack", "start_stack"}),
    "notebook": frozenset({"run_notebook", "execute_notebook"}),
    "browser": frozenset({"sync_playwright", "async_playwright"}),
}


def marks_for(fixturenames: Iterable[str], called: Iterable[str] = ()) -> set[str]:
    """The slow markers a test needs, from its fixtures and the names its code calls."""
    fixtures, names = set(fixturenames), set(called)
    marks = {"stack"} if fixtures & STACK_FIXTURES else set()
    marks |= {mark for mark, calls in CALLS.items() if names & calls}
    return marks


def mark_for_command(argv: Sequence[str] | str) -> str | None:
    """The marker a test needs to start this process: ``stack`` for the Worker's runtime (the
    dev-server, the project's real wrangler, whatever it runs) or ``gateway-ops up``/``demo``, ``notebook`` for a Jupyter kernel,
    Voilà or pytest's nbval, ``browser`` for Chromium or Playwright's driver; None for anything else."""
    args = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv)
    words = [os.path.basename(os.fsdecode(a)) for a in args]
    text = " ".join(os.fsdecode(a) for a in args)
    if "dev-server.mjs" in words or _follows(words, "wrangler", "dev") or _real_wrangler(args):
        return "stack"
    if _follows(words, "gateway_ops.cli", "up", "demo") or _follows(words, "gateway-ops", "up", "demo"):
        return "stack"
    if ("ipykernel_launcher" in text or "voila" in words or _follows(words, "gateway_ops.cli", "dashboard")
            or any(w.startswith("--nbval") for w in words)):
        return "notebook"
    # The browser is the program itself (`make … chromium` names a make target, not a browser).
    if "playwright" in text or (words and words[0].startswith(("chromium", "chrome"))):
        return "browser"
    return None


def _real_wrangler(args: Sequence) -> bool:
    """The Worker's own wrangler (node, its local D1/KV runtime: seconds per call), not a test's fake."""
    program = os.fsdecode(args[0]) if args else ""
    return os.path.basename(program) == "wrangler" and "node_modules" in program


def _follows(words: Sequence[str], program: str, *commands: str) -> bool:
    """``program`` appears with one of ``commands`` as its next word."""
    return any(a == program and b in commands for a, b in pairwise(words))


class UndeclaredSlowTest(RuntimeError):
    """A test started a Worker, a kernel or a browser without the marker that says so."""


#: where a test's violations are kept (on ``item.stash``), for conftest to fail it with
VIOLATIONS = pytest.StashKey[list]()


def declared(item: pytest.Item) -> set[str]:
    """The slow markers a collected test carries."""
    return {mark.name for mark in item.iter_markers() if mark.name in SLOW_MARKERS}


class ProcessGuard:
    """The audit hook: knows the test being run and refuses its undeclared slow processes."""

    def __init__(self) -> None:
        self.running: list[pytest.Item] = []

    def audit(self, event: str, args: tuple) -> None:
        if event != "subprocess.Popen" or not self.running:
            return
        executable, argv = args[0], args[1]
        item, needed = self.running[-1], mark_for_command(argv if argv is not None else executable)
        if needed and needed not in declared(item):
            message = (f"{item.nodeid} starts a {needed} process ({argv!r}) without the {needed!r} marker: use the "
                       f"fixture that brings it or mark the test @pytest.mark.{needed}")
            item.stash.setdefault(VIOLATIONS, []).append(message)
            raise UndeclaredSlowTest(message)
