"""One local stack for the faults suite, with short timeouts so every fault ends in seconds.

``UPSTREAM_TIMEOUT_MS`` (time to the origin's headers) and ``UPSTREAM_IDLE_TIMEOUT_MS`` (longest
silence after them) are a few seconds here instead of 120 s and 30 s; every client call has its
own deadline too, so a gateway that did hang fails the test instead of holding the suite.
"""
from __future__ import annotations

import httpx
import pytest

from gateway_ops.accesslog import LocalAccessLog

HEADERS_TIMEOUT_MS = 2000
IDLE_TIMEOUT_MS = 1500


#: Answers are 400 tokens, one every 25 ms (a 10 s stream) unless a request asks for fewer: the
#: suite's requests ask for 16; a long stream is there for a client that leaves mid-answer.
ORIGIN_ARGS = ["--latency-ms", "5", "--per-token-ms", "25", "--output-tokens", "400", "--jitter", "0"]


@pytest.fixture(scope="module")
def faults_stack(make_module_stack):
    return make_module_stack(origin_args=ORIGIN_ARGS,
                             worker_settings={"UPSTREAM_TIMEOUT_MS": str(HEADERS_TIMEOUT_MS),
                                              "UPSTREAM_IDLE_TIMEOUT_MS": str(IDLE_TIMEOUT_MS)})


@pytest.fixture(scope="module")
def faults_log(faults_stack) -> LocalAccessLog:
    return LocalAccessLog(faults_stack.state_dir)


@pytest.fixture
def faults_origin(faults_stack):
    """The suite's origin control (``/_origin/…``), faults off and record cleared around each test."""
    with httpx.Client(base_url=faults_stack.origin_url, timeout=10) as client:
        client.delete("/_origin/faults")
        client.delete("/_origin/requests")
        yield client
        client.delete("/_origin/faults")
