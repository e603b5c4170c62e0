"""Fixtures of the load-test tests: an origin with a known capacity."""
from __future__ import annotations

import sys

import pytest

from gateway_ops.processes import ManagedProcess
from gateway_ops.stack import HOST, free_port

#: 4 generation slots × 200 ms fixed service time (no jitter): capacity 4 / 0.2 s = 20 requests/s.
SLOTS, SERVICE_MS = 4, 200


@pytest.fixture
def slots_origin():
    """A simulated origin whose capacity the model predicts exactly (started directly, stopped after)."""
    port = free_port()
    origin = ManagedProcess("simulated origin (4 slots)", [
        sys.executable, "-m", "gateway_ops.origin", "--host", HOST, "--port", str(port), "--profile", "instant",
        "--slots", str(SLOTS), "--latency-ms", str(SERVICE_MS), "--per-token-ms", "0", "--output-tokens", "1",
        "--jitter", "0", "--max-queue", "1000",
    ])
    origin.start(ready=lambda line: line.startswith("origin ready"))
    try:
        origin.wait_ready(30)
        yield f"http://{HOST}:{port}"
    finally:
        origin.stop()
