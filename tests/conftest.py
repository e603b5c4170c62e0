"""Shared fixtures: one local stack (real Worker + simulated origin on loopback) per test session.

The origin answers quickly but streams at a visible pace (16 tokens × 25 ms), so streaming tests
can tell "first event" from "whole answer".
"""
from __future__ import annotations

import signal
import time

import httpx
import pytest

from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.loadtest.ratelimit import wait_before_start
from gateway_ops.stack import LocalStack, StackConfig, free_port

ORIGIN_ARGS = ["--latency-ms", "5", "--per-token-ms", "25", "--output-tokens", "16", "--jitter", "0"]


def start_stack(state_dir, **options) -> LocalStack:
    options.setdefault("origin_args", list(ORIGIN_ARGS))
    options.setdefault("profile", "instant")
    config = StackConfig(port=free_port(), upstream_port=free_port(), state_dir=state_dir,
                         worker_settings=options.pop("worker_settings", {}), **options)
    return LocalStack(config).start()


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
    return stack


def wait_unless_minute_has(seconds: float = 8.0) -> None:
    """Sleeps into the next UTC minute unless `seconds` are left in this one, so a count against
    the per-minute limit never straddles a window boundary (where admitting again is correct)."""
    time.sleep(wait_before_start(time.time(), seconds))


@pytest.fixture
def minute_guard():
    """Call it right before a test counts requests against the per-minute limit."""
    return wait_unless_minute_has
