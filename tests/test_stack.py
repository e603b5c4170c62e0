"""The local stack's lifecycle: ready, configured from the environment, and nothing left behind."""
from __future__ import annotations

import socket
import time

import httpx
import pytest

from conftest import migrated_state
from gateway_ops.exceptions import PortInUseError, StackError
from gateway_ops.keys import user_key
from gateway_ops.processes import live_processes_in_group
from gateway_ops.stack import LocalStack, StackConfig, free_port, port_is_free
from helpers import client_headers


def group_alive(pgid: int) -> bool:
    return bool(live_processes_in_group(pgid))


def test_stack_answers_health_and_leaves_nothing_running(tmp_path, make_stack):
    stack = make_stack(tmp_path)
    groups = [stack.worker.pid, stack.origin.pid]
    assert all(group_alive(pgid) for pgid in groups)
    ports = [stack.config.port, stack.config.upstream_port]
    assert httpx.get(f"{stack.url}/health").json() == {"status": "ok", "gateway": "organized-gateway"}
    stack.stop()
    assert not any(group_alive(pgid) for pgid in groups), "a child process group outlived the stack"
    assert all(port_is_free(port) for port in ports), "a port is still bound after stop"
    stack.stop()  # safe twice


def test_worker_settings_reach_the_local_worker(tmp_path, make_stack, minute_guard):
    secret = "stack-test-secret"
    with make_stack(tmp_path, worker_settings={"RATE_LIMIT_PER_MINUTE": "2", "USER_KEY_SECRET": secret}) as stack:
        minute_guard()
        headers = client_headers("carol", **{"X-User-Key": user_key(secret, "carol")})
        statuses = [httpx.get(f"{stack.url}/v1/models", headers=headers).status_code for _ in range(3)]
        forged = httpx.get(f"{stack.url}/v1/models", headers=client_headers("dave", **{"X-User-Key": "forged"}))
    assert statuses == [200, 200, 429]
    assert forged.status_code == 401


def test_a_busy_port_is_a_clear_error_not_a_hang(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(PortInUseError, match=f"Port {port} .* already in use"):
            LocalStack(StackConfig(port=port, upstream_port=free_port(), state_dir=tmp_path)).start()
        assert time.monotonic() - started < 2


def test_an_origin_that_cannot_start_is_reported_with_its_output(tmp_path):
    config = StackConfig(port=free_port(), upstream_port=free_port(), profile="no-such-profile", state_dir=tmp_path)
    migrated_state(tmp_path)
    with pytest.raises(StackError, match="simulated origin exited before it was ready"):
        LocalStack(config).start()
    assert port_is_free(config.port)


def test_upstream_url_points_the_worker_at_an_existing_origin(stack, tmp_path, make_stack):
    with make_stack(tmp_path, upstream_url=stack.origin_url) as second:
        assert second.origin is None
        response = httpx.get(f"{second.url}/v1/models", headers=client_headers("erin"))
    assert response.status_code == 200
    assert response.json()["object"] == "list"
