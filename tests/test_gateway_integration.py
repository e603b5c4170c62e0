"""The real Worker (wrangler's runtime) and the simulated origin over loopback: what attendees see."""
from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import httpx
import pytest

from gateway_ops import queries
from helpers import CLIENT_KEY, MODEL, client_headers, fresh_user, wait_for_rows, wait_until


def test_forwards_path_query_and_headers_and_hides_the_gateways_own(stack, origin):
    user = fresh_user()
    response = httpx.post(
        f"{stack.url}/v1/chat/completions?trace=1&x=a%20b",
        headers=client_headers(user, **{"X-User-Key": "not-forwarded", "CF-Connecting-IP": "203.0.113.9"}),
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1},
    )
    assert response.status_code == 200
    received = origin.get("/_origin/requests", params={"last": 1}).json()[-1]
    assert received["path"] == "/v1/chat/completions"
    assert received["query"] == "trace=1&x=a%20b"
    headers = received["headers"]
    assert headers["x-forwarded-user"] == user
    # BYOK: the client's own key reached the origin, which accepted it (and records it redacted).
    assert headers["authorization"] == "Bearer [redacted]" and CLIENT_KEY not in json.dumps(received)
    for name in ("x-user-key", "x-user-id", "cf-connecting-ip"):
        assert name not in headers


def test_first_event_reaches_the_client_before_the_origin_has_finished(stack, origin):
    """16 tokens × 25 ms: the origin is still generating when the first event arrives."""
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "count"}]}
    headers = client_headers(fresh_user(), **{"Accept": "text/event-stream", "Accept-Encoding": "gzip"})
    first_at: float | None = None
    in_flight_at_first: int | None = None
    events = []
    started = time.monotonic()
    with httpx.stream("POST", f"{stack.url}/v1/chat/completions", json=body, headers=headers, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            if first_at is None:
                first_at = time.monotonic() - started
                in_flight_at_first = origin.get("/_origin/stats").json()["in_flight"]
            events.append(line[5:].strip())
    total = time.monotonic() - started
    assert first_at is not None and in_flight_at_first is not None, "no event arrived"
    assert in_flight_at_first >= 1, "the origin had already finished when the first event arrived"
    assert first_at < total / 2
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(chunk["choices"] for chunk in chunks), "the usage-only chunk the gateway asked for leaked"


def test_a_burst_of_200_admits_exactly_50_and_logs_every_answer(stack, access_log, minute_guard):
    """Every answer is the Worker's own (has X-Request-ID), and each has exactly one log row."""
    user = fresh_user("burst")

    async def burst():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            async def one():
                async with session.get(f"{stack.url}/v1/models", headers=client_headers(user)) as r:
                    await r.read()
                    return r.status, r.headers.get("X-Request-ID")
            return await asyncio.gather(*(one() for _ in range(200)))

    minute_guard()
    answers = asyncio.run(burst())
    statuses = [status for status, _ in answers]
    assert statuses.count(200) == 50
    assert statuses.count(429) == 150
    request_ids = {rid for _, rid in answers}
    assert None not in request_ids and len(request_ids) == 200
    rows = wait_for_rows(access_log, user, 200)
    assert len(rows) == 200
    assert set(rows["request_id"]) == request_ids
    assert rows["status"].value_counts().to_dict() == {200: 50, 429: 150}


@pytest.mark.parametrize(
    "fault, status, error_class",
    [("error", 500, "upstream_error"), ("malformed", 200, None)],
)
def test_origin_faults_are_passed_on_and_logged(stack, origin, access_log, fault, status, error_class):
    response = httpx.post(f"{stack.url}/v1/chat/completions",
                          headers=client_headers(fresh_user(), **{"X-Origin-Fault": fault}),
                          json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == status
    row = wait_until(lambda: queries.request_by_id(access_log, response.headers["X-Request-ID"]), timeout=5)
    assert row is not None and row["status"] == status and row["error_class"] == error_class


def test_an_unreachable_origin_is_a_502_json_error(make_stack, tmp_path, access_log):
    from gateway_ops.stack import free_port

    with make_stack(tmp_path, upstream_url=f"http://127.0.0.1:{free_port()}") as dead:
        response = httpx.get(f"{dead.url}/v1/models", headers=client_headers("frank"))
    assert response.status_code == 502
    assert response.json() == {"error": "The origin could not be reached."}
