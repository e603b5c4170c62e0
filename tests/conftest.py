"""Shared fixtures: one local stack (real Worker + simulated origin on loopback) per test session.

The origin answers quickly but streams at a visible pace (16 tokens × 25 ms), so streaming tests
can tell "first event" from "whole answer". It runs strict, as a real origin: every ``/v1`` request
needs ``Authorization: Bearer GATEWAY_CLIENT_API_KEY`` (codex stacks: ``X-Codex-Token:
GATEWAY_CODEX_TOKEN``) and a model it lists. The session fixture ``client_credentials`` puts the
test key (helpers.CLIENT_KEY) in the environment, so every suite proves the credential path end to
end; codex tests set GATEWAY_CODEX_TOKEN themselves (set, it makes the load tests lend it). Helpers that are not fixtures live in helpers.py; the
slow markers (stack, notebook, browser) are set here from what each test uses (slow_marks.py).
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.origin import strict_args
from gateway_ops.stack import LocalStack, StackConfig, apply_local_migrations, free_port
from helpers import CLIENT_KEY, wait_unless_minute_has
from slow_marks import VIOLATIONS, ProcessGuard, declared, marks_for

ORIGIN_ARGS = ["--latency-ms", "5", "--per-token-ms", "25", "--output-tokens", "16", "--jitter", "0"]


TEST_CREDENTIALS = {"GATEWAY_CLIENT_API_KEY": CLIENT_KEY}


def origin_strictness(worker_settings) -> list[str]:
    """The origin's strict arguments for the Worker's auth mode: it requires the credential the
    Worker forwards (the client's key in openai mode, the user's KV token in codex mode)."""
    if worker_settings.get("AUTH_MODE") == "codex":
        return strict_args(codex_token_env="GATEWAY_CODEX_TOKEN")
    return strict_args(api_key_env="GATEWAY_CLIENT_API_KEY")


_MIGRATED: list[Path] = []
#: Stacks the fixtures started: a failing test's report ends with the last lines of those still running.
STARTED_STACKS: list[LocalStack] = []


def migrated_state(state_dir) -> None:
    """Gives a state folder the Worker has never used a copy of one that wrangler migrated once per
    test process, stamp included (gateway_ops.migration_stamp): its stack then skips wrangler's
    5–12 s. Tests of migrating itself call wrangler on a folder of their own."""
    state_dir = Path(state_dir)
    if (state_dir / "v3").exists():
        return
    if not _MIGRATED:
        template = Path(tempfile.mkdtemp(prefix="gateway-migrated-"))
        atexit.register(shutil.rmtree, template, ignore_errors=True)
        apply_local_migrations(template)
        _MIGRATED.append(template)
    shutil.copytree(_MIGRATED[0], state_dir, dirs_exist_ok=True)


def start_stack(state_dir, **options) -> LocalStack:
    migrated_state(state_dir)
    worker_settings = options.pop("worker_settings", {})
    options.setdefault("origin_args", [*ORIGIN_ARGS, *origin_strictness(worker_settings)])
    options.setdefault("profile", "instant")
    config = StackConfig(port=free_port(), upstream_port=free_port(), state_dir=state_dir,
                         worker_settings=worker_settings, **options)
    stack = LocalStack(config).start()
    STARTED_STACKS.append(stack)
    return stack


@pytest.fixture(scope="session", autouse=True)
def client_credentials():
    """The test client key in the environment for the whole session: the strict origins read it
    (by name), and so do settings in the CLI, notebooks and subprocesses."""
    previous = {name: os.environ.get(name) for name in TEST_CREDENTIALS}
    os.environ.update(TEST_CREDENTIALS)
    yield TEST_CREDENTIALS
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def keep_sigterm_handler():
    """CLI commands install a SIGTERM handler (to stop their children); keep pytest's own."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def make_stack():
    """Starts an extra stack (e.g. with other Worker settings); the test stops it, or this fixture does."""
    started: list[LocalStack] = []

    def make(state_dir, **options) -> LocalStack:
        started.append(start_stack(state_dir, **options))
        return started[-1]

    yield make
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def make_module_stack(tmp_path_factory):
    """Like make_stack, for a stack every test of one module shares (a Worker start costs seconds):
    ``make_module_stack(**options)``; stopped when the module is done."""
    started: list[LocalStack] = []

    def make(**options) -> LocalStack:
        started.append(start_stack(tmp_path_factory.mktemp("module-state"), **options))
        return started[-1]

    yield make
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The local stack with default Worker settings (limit 50/min, BYOK, no user keys)."""
    running = start_stack(tmp_path_factory.mktemp("gateway-state"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def access_log(stack) -> LocalAccessLog:
    return LocalAccessLog(stack.state_dir)


@pytest.fixture
def origin(stack):
    """Control of the simulated origin: its record of requests, cleared for each test."""
    client = httpx.Client(base_url=stack.origin_url, timeout=10)
    client.delete("/_origin/requests")
    client.delete("/_origin/faults")
    yield client
    client.delete("/_origin/faults")
    client.close()


@pytest.fixture
def gateway_env(stack, monkeypatch):
    """Environment for code (and notebook kernels) that reads settings: point it at the session stack."""
    monkeypatch.setenv("GATEWAY_URL", stack.url)
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(stack.state_dir))
    monkeypatch.setenv("GATEWAY_TARGET", "local")
    monkeypatch.delenv("USER_KEY_SECRET", raising=False)
    monkeypatch.delenv("GATEWAY_CODEX_TOKEN", raising=False)
    return stack


@pytest.fixture
def minute_guard():
    """Call it right before a test counts requests against the per-minute limit."""
    return wait_unless_minute_has


# --- slow markers --------------------------------------------------------------------------------


def pytest_collection_modifyitems(items):
    """Marks each test stack/notebook/browser from its fixtures and the names its code calls, then
    for parallel runs (pytest-xdist, ``make test-python PYTEST_WORKERS=2``): ``serial`` on the modules
    that measure time or memory, and one ``xdist_group`` per module for the slow tests, so with
    ``--dist loadgroup`` a module's tests share one worker and its module-scoped stack."""
    for item in items:
        code = getattr(getattr(item, "function", None), "__code__", None)
        for mark in sorted(marks_for(item.fixturenames, code.co_names if code else ()) - declared(item)):
            item.add_marker(mark)
        module = item.nodeid.split("::", 1)[0]
        if module in SERIAL_MODULES:
            item.add_marker("serial")
        if declared(item) and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group(module))


#: modules whose assertions bound a duration, a latency or memory growth: a parallel run
#: (Makefile, PYTEST_WORKERS) leaves them out and runs them alone afterwards, rather than
#: loosening a bound that a busy neighbour process could break
SERIAL_MODULES = frozenset({
    "tests/soak/test_soak.py",                 # memory stable and exact windows over 75 s
    "tests/loadtest/test_integration.py",      # send lag < 50 ms, per-token time 25 ± 8 ms
    "tests/test_origin_gate_stack.py",         # queue waits within 50 ms of the timeout
    "tests/faults/test_origin_faults.py",      # answers within the Worker's timeouts + 5 s
    "tests/test_stack.py",                     # a stop within 2 s
    "tests/controls/test_integration.py",      # a control takes effect within its 2 s promise
})


_guard = ProcessGuard()
sys.addaudithook(_guard.audit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item):
    """The guard knows which test runs (its set-up and tear-down included)."""
    _guard.running.append(item)
    try:
        return (yield)
    finally:
        _guard.running.remove(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fails a test that started a slow process undeclared, even if it caught the guard's error."""
    result = yield
    if item.stash.get(VIOLATIONS, None):
        pytest.fail(item.stash[VIOLATIONS][0], pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report carries what the running Worker and origins printed last (their
    ``upstream fetch failed …`` lines say why a 502 happened, which the test's assertion cannot)."""
    report = yield
    if report.failed and report.when == "call":
        STARTED_STACKS[:] = [stack for stack in STARTED_STACKS if stack.worker is not None]
        for stack in STARTED_STACKS:
            for part in (stack.worker, stack.origin, *stack.pool):
                if part is not None:
                    report.sections.append((f"{part.name} of the stack at {stack.url}, last lines", part.tail(25)))
    return report
