"""Slow tests are marked from what they use, and one that starts a slow process undeclared fails.

`make test-fast` deselects the stack, notebook and browser markers; these tests keep that set honest.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway_ops.dashboards.serve import voila_argv
from slow_marks import VIOLATIONS, UndeclaredSlowTest, declared, mark_for_command, marks_for


def test_stack_fixtures_mark_a_test_directly_or_through_another_fixture():
    assert marks_for({"stack", "gateway_env", "monkeypatch"}) == {"stack"}
    assert marks_for({"make_stack", "tmp_path"}) == {"stack"}
    assert marks_for({"tmp_path", "monkeypatch"}) == set()


def test_calls_in_a_tests_own_code_mark_it():
    assert marks_for({"tmp_path"}, ["run_notebook", "json"]) == {"notebook"}
    assert marks_for({"gateway_env", "stack"}, ["sync_playwright"]) == {"stack", "browser"}
    assert marks_for({"tmp_path"}, ["LocalStack", "StackConfig"]) == {"stack"}
    assert marks_for({"tmp_path"}, ["run_checked", "httpx"]) == set()


@pytest.mark.parametrize("argv, mark", [
    (["node", "/x/worker/scripts/dev-server.mjs", "--port", "1"], "stack"),
    (["/x/node_modules/.bin/wrangler", "dev", "--port", "1"], "stack"),
    ([sys.executable, "-m", "gateway_ops.cli", "up", "--port", "1"], "stack"),
    ([sys.executable, "-m", "gateway_ops.cli", "dashboard", "--port", "1"], "notebook"),
    ([sys.executable, "-m", "ipykernel_launcher", "-f", "/tmp/kernel.json"], "notebook"),
    (voila_argv(Path("08_live_dashboard.ipynb"), 1), "notebook"),
    ([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "04_smoke_test.ipynb"], "notebook"),
    (["/x/playwright/driver/node", "/x/playwright/driver/package/cli.js", "run-driver"], "browser"),
    (["/x/worker/node_modules/.bin/wrangler", "d1", "migrations", "apply", "DB", "--local"], "stack"),
    (["/tmp/pytest/bin/wrangler", "deploy"], None),  # the tests' fake wrangler (a script)
    ([sys.executable, "-m", "gateway_ops.origin", "--port", "1"], None),
    (["/usr/bin/chromium", "--headless", "--no-sandbox"], "browser"),
    (["make", "-n", "-B", "install", "chromium"], None),  # a make target named chromium is no browser
    ("echo dev", None),
])
def test_processes_are_classified_by_what_they_start(argv, mark):
    assert mark_for_command(argv) == mark


def test_the_collected_tests_carry_the_markers_of_their_fixtures(request):
    """The hook ran on this session: no collected test that uses the stack lacks the marker."""
    unmarked = [item.nodeid for item in request.session.items
                if not marks_for(item.fixturenames) <= declared(item)]
    assert unmarked == []
    assert "stack" not in declared(request.node)


def test_an_undeclared_slow_process_is_refused_and_fails_the_test(request):
    """A harmless Python process whose argv names the Worker's dev-server: the guard refuses it
    before it starts, and records why, so the test fails even if it swallowed the error."""
    with pytest.raises(UndeclaredSlowTest, match="without the 'stack' marker"):
        subprocess.Popen([sys.executable, "-c", "pass", "dev-server.mjs"])
    assert len(request.node.stash[VIOLATIONS]) == 1
    request.node.stash[VIOLATIONS].clear()  # else conftest fails this test, as it should any other


@pytest.mark.stack
def test_a_declared_slow_process_is_allowed():
    process = subprocess.Popen([sys.executable, "-c", "pass", "dev-server.mjs"])
    assert process.wait(10) == 0
