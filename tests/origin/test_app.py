"""The origin app in-process (httpx ASGITransport): OpenAI shapes, recorder, control, faults, capacity."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
import time
from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from gateway_ops.origin import OriginSettings, create_app, resolve_profile

from .helpers import CHAT, asgi_client, fast_settings, sse_payloads

pytestmark = pytest.mark.anyio


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


# --- chat completions --------------------------------------------------------------------------


async def test_chat_completion_has_the_openai_shape(client: httpx.AsyncClient) -> None:
    messages = [{"role": "system", "content": "x" * 20}, {"role": "user", "content": "y" * 20}]
    body = {"model": "my-model", "messages": messages}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["id"].startswith("chatcmpl-")
    assert data["object"] == "chat.completion"
    assert isinstance(data["created"], int) and abs(data["created"] - time.time()) < 60
    assert data["model"] == "my-model"
    (choice,) = data["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].startswith("This is a simulated")
    assert data["usage"] == {"prompt_tokens": 10, "completion_tokens": 16, "total_tokens": 26}


async def test_prompt_tokens_count_text_parts_and_max_tokens_caps_the_answer(client: httpx.AsyncClient) -> None:
    parts = [{"type": "text", "text": "a" * 16}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    body = {"model": "m", "messages": [{"role": "user", "content": parts}], "max_tokens": 5}
    data = (await client.post("/v1/chat/completions", json=body)).json()
    assert data["usage"] == {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}
    assert data["choices"][0]["finish_reason"] == "length"
    assert len(data["choices"][0]["message"]["content"].split()) == 5
    bigger = (await client.post("/v1/chat/completions", json={**CHAT, "max_completion_tokens": 500})).json()
    assert bigger["usage"]["completion_tokens"] == 16 and bigger["choices"][0]["finish_reason"] == "stop"


async def test_stream_without_include_usage_has_no_usage_anywhere(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    *chunks, done = sse_payloads(response.text)
    assert done == "[DONE]"
    assert all(chunk["object"] == "chat.completion.chunk" and "usage" not in chunk for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1 and {chunk["model"] for chunk in chunks} == {"gpt-4o-mini"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    content = [chunk["choices"][0]["delta"]["content"] for chunk in chunks[1:-1]]
    assert len(content) == 16
    plain = (await client.post("/v1/chat/completions", json=CHAT)).json()
    assert "".join(content) == plain["choices"][0]["message"]["content"]


async def test_stream_with_include_usage_ends_with_a_usage_only_chunk(client: httpx.AsyncClient) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 3}
    *chunks, done = sse_payloads((await client.post("/v1/chat/completions", json=body)).text)
    assert done == "[DONE]"
    *generation, usage_chunk = chunks
    assert all(chunk["usage"] is None and len(chunk["choices"]) == 1 for chunk in generation)
    assert generation[-1]["choices"][0]["finish_reason"] == "length"
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    assert usage_chunk["id"] == generation[0]["id"]


async def test_include_usage_false_is_the_same_as_absent(client: httpx.AsyncClient) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": False}}
    chunks = sse_payloads((await client.post("/v1/chat/completions", json=body)).text)[:-1]
    assert all("usage" not in chunk and chunk["choices"] for chunk in chunks)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({**CHAT, "max_tokens": 0}, "max_tokens"),
        ({**CHAT, "max_tokens": "10"}, "max_tokens"),
    ],
)
async def test_invalid_chat_requests_are_400_naming_the_field(
    client: httpx.AsyncClient, body: dict, param: str
) -> None:
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b'{"a":' * 5000 + b"1" + b"}" * 5000])
async def test_a_body_that_is_not_a_json_object_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


# --- models, embeddings, unknown URLs ----------------------------------------------------------


async def test_models_lists_the_configured_names() -> None:
    app = create_app(OriginSettings(profile=resolve_profile("instant"), models=("alpha", "beta")))
    async with asgi_client(app) as client:
        data = (await client.get("/v1/models")).json()
    assert data["object"] == "list"
    assert [(m["id"], m["object"]) for m in data["data"]] == [("alpha", "model"), ("beta", "model")]


async def test_embeddings_are_deterministic_unit_vectors_with_usage(client: httpx.AsyncClient) -> None:
    body = {"model": "embed", "input": ["hello world!", "other"]}
    first = (await client.post("/v1/embeddings", json=body)).json()
    again = (await client.post("/v1/embeddings", json=body)).json()
    assert first == again
    assert first["object"] == "list" and first["model"] == "embed"
    assert [item["index"] for item in first["data"]] == [0, 1]
    vectors = [item["embedding"] for item in first["data"]]
    assert all(len(v) == 8 and math.isclose(math.fsum(x * x for x in v), 1.0, abs_tol=1e-4) for v in vectors)
    assert vectors[0] != vectors[1]
    assert first["usage"] == {"prompt_tokens": 5, "total_tokens": 5}


async def test_embeddings_accept_a_string_dimensions_and_base64(client: httpx.AsyncClient) -> None:
    floats = (await client.post("/v1/embeddings", json={"model": "e", "input": "hi", "dimensions": 4})).json()
    vector = floats["data"][0]["embedding"]
    assert len(vector) == 4
    body = {"model": "e", "input": "hi", "dimensions": 4, "encoding_format": "base64"}
    packed = (await client.post("/v1/embeddings", json=body)).json()
    decoded = struct.unpack("<4f", base64.b64decode(packed["data"][0]["embedding"]))
    assert decoded == pytest.approx(vector, abs=1e-6)


@pytest.mark.parametrize(
    "body",
    [{"model": "e"}, {"model": "e", "input": []}, {"input": "x"}, {"model": "e", "input": "x", "dimensions": 0}],
)
async def test_invalid_embedding_requests_are_400(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post("/v1/embeddings", json=body)
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/completions", 404),
        ("GET", "/v1/nothing/here", 404),
        ("GET", "/elsewhere", 404),
        ("GET", "/v1/chat/completions", 405),
    ],
)
async def test_unknown_urls_and_methods_get_openai_style_errors(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and path in error["message"]


# --- recorder and control endpoints ------------------------------------------------------------


async def test_every_request_is_recorded_with_headers_query_and_body(app: Starlette, client: httpx.AsyncClient) -> None:
    raw = json.dumps({**CHAT, "stream": False}).encode()
    headers = {"Authorization": "Bearer sk-test", "X-Custom-Thing": "42", "content-type": "application/json"}
    await client.post("/v1/chat/completions?trace=1&x=y", content=raw, headers=headers)
    await client.get("/not/an/api", headers={"X-Other": "1"})
    first, second = app.state.recorder.all()
    assert (first.method, first.path, first.query) == ("POST", "/v1/chat/completions", "trace=1&x=y")
    assert first.headers["authorization"] == "Bearer sk-test" and first.headers["x-custom-thing"] == "42"
    assert all(name == name.lower() for name in first.headers)
    assert first.body_size == len(raw) and first.json == {**CHAT, "stream": False}
    assert (second.method, second.path, second.body_size, second.json) == ("GET", "/not/an/api", 0, None)
    assert first.seq < second.seq and first.at <= second.at


async def test_large_or_non_json_bodies_are_sized_but_not_parsed() -> None:
    app = create_app(OriginSettings(profile=resolve_profile("instant"), json_record_limit=50))
    async with asgi_client(app) as client:
        await client.post("/v1/embeddings", json={"model": "e", "input": "x" * 100})
        await client.post("/v1/chat/completions", content=b"not json at all")
    big, broken = app.state.recorder.all()
    assert big.body_size > 100 and big.json is None
    assert broken.body_size == 15 and broken.json is None


async def test_the_recorder_keeps_only_the_most_recent_requests() -> None:
    app = create_app(OriginSettings(profile=resolve_profile("instant"), recorder_size=3))
    async with asgi_client(app) as client:
        for n in range(5):
            await client.get(f"/v1/models?n={n}")
    assert [item.query for item in app.state.recorder.all()] == ["n=2", "n=3", "n=4"]


async def test_control_endpoints_expose_and_clear_the_record(app: Starlette, client: httpx.AsyncClient) -> None:
    for n in range(3):
        await client.get(f"/v1/models?n={n}")
    everything = (await client.get("/_origin/requests")).json()
    assert [item["query"] for item in everything] == ["n=0", "n=1", "n=2"]  # control calls are not recorded
    last = (await client.get("/_origin/requests", params={"last": 2})).json()
    assert [item["query"] for item in last] == ["n=1", "n=2"]
    assert set(last[0]) == {"seq", "method", "path", "query", "headers", "body_size", "json", "at"}
    assert (await client.get("/_origin/requests", params={"last": "-1"})).status_code == 400
    assert (await client.delete("/_origin/requests")).json() == {"cleared": 3}
    assert (await client.get("/_origin/requests")).json() == [] and len(app.state.recorder) == 0


async def test_stats_report_the_capacity_counters(client: httpx.AsyncClient) -> None:
    await client.post("/v1/chat/completions", json=CHAT)
    stats = (await client.get("/_origin/stats")).json()
    assert stats["served"] == 1 and stats["in_flight"] == 0 and stats["queued"] == 0 and stats["rejected"] == 0
    assert stats["slots"] == 256 and stats["profile"] == "instant" and stats["recorded"] == 1
    assert (await client.delete("/_origin/stats")).json()["served"] == 0


async def test_put_faults_changes_the_running_app(app: Starlette, client: httpx.AsyncClient) -> None:
    response = await client.put("/_origin/faults", json={"error_rate": 1.0})
    assert response.status_code == 200 and response.json()["error_rate"] == 1.0
    assert app.state.faults.error_rate == 1.0
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 500
    assert (await client.get("/_origin/faults")).json()["error_rate"] == 1.0
    assert (await client.delete("/_origin/faults")).json()["error_rate"] == 0.0
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200


@pytest.mark.parametrize("body", [{"nope": 1}, {"error_rate": 2}, {"hang": "yes"}])
async def test_put_faults_refuses_bad_settings(app: Starlette, client: httpx.AsyncClient, body: dict) -> None:
    response = await client.put("/_origin/faults", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_fault_settings"
    assert app.state.faults.error_rate == 0.0 and app.state.faults.hang is False


# --- faults ------------------------------------------------------------------------------------


async def test_error_fault_set_on_the_live_settings_object(app: Starlette, client: httpx.AsyncClient) -> None:
    app.state.faults.error_rate = 1.0
    for path, body in [("/v1/chat/completions", CHAT), ("/v1/embeddings", {"model": "e", "input": "x"})]:
        response = await client.post(path, json=body)
        assert response.status_code == 500
        assert response.json()["error"] == {
            "message": "The simulated origin failed (injected fault).",
            "type": "server_error",
            "param": None,
            "code": "origin_fault",
        }
    assert app.state.capacity.served == 0  # an errored request never generated


async def test_error_rate_fails_about_that_fraction(app: Starlette, client: httpx.AsyncClient) -> None:
    app.state.faults.error_rate = 0.5
    statuses = [(await client.get("/v1/models")).status_code for _ in range(200)]
    assert set(statuses) == {200, 500}
    assert 60 <= statuses.count(500) <= 140


async def test_malformed_fault_sends_broken_json_as_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"X-Origin-Fault": "malformed"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_slow_fault_delays_the_answer(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"X-Origin-Fault": "slow=150"})
    assert response.status_code == 200 and time.monotonic() - started >= 0.14


async def test_the_fault_header_affects_only_its_own_request(client: httpx.AsyncClient) -> None:
    faulted = await client.post("/v1/chat/completions", json=CHAT, headers={"X-Origin-Fault": "error"})
    normal = await client.post("/v1/chat/completions", json=CHAT)
    assert (faulted.status_code, normal.status_code) == (500, 200)


async def test_an_unknown_fault_header_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"X-Origin-Fault": "explode"})
    assert response.status_code == 400
    assert "error|hang|slow|drop|malformed" in response.json()["error"]["message"]


# --- capacity through HTTP ---------------------------------------------------------------------


async def test_two_slots_serve_four_requests_in_two_rounds() -> None:
    app = create_app(fast_settings(slots=2, latency_ms=200, per_token_ms=0, jitter=0))
    capacity = app.state.capacity
    async with asgi_client(app) as client:

        async def timed() -> float:
            response = await client.post("/v1/chat/completions", json=CHAT)
            assert response.status_code == 200
            return time.monotonic() - started

        started = time.monotonic()
        tasks = [asyncio.create_task(timed()) for _ in range(4)]
        await wait_until(lambda: capacity.in_flight == 2 and capacity.queued == 2)
        durations = sorted(await asyncio.gather(*tasks))
    assert capacity.peak_in_flight == 2 and capacity.served == 4 and capacity.rejected == 0
    assert durations[0] >= 0.18 and durations[1] < durations[2]
    assert durations[2] >= 0.37 and durations[3] < 3.0  # the second round waited for the first


async def test_requests_past_the_queue_bound_get_503_at_once() -> None:
    app = create_app(fast_settings(slots=1, max_queue=1, latency_ms=300, per_token_ms=0, jitter=0))
    capacity = app.state.capacity
    async with asgi_client(app) as client:
        running = asyncio.create_task(client.post("/v1/chat/completions", json=CHAT))
        await wait_until(lambda: capacity.in_flight == 1)
        queued = asyncio.create_task(client.post("/v1/chat/completions", json=CHAT))
        await wait_until(lambda: capacity.queued == 1)
        started = time.monotonic()
        rejected = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
        elapsed = time.monotonic() - started
        statuses = [(await running).status_code, (await queued).status_code]
    assert rejected.status_code == 503 and elapsed < 0.2
    error = rejected.json()["error"]
    assert error["type"] == "server_error" and error["code"] == "origin_overloaded"
    assert "queue of 1 is full" in error["message"]
    assert rejected.headers["retry-after"] == "1"
    assert statuses == [200, 200]
    assert (capacity.served, capacity.rejected) == (2, 1)


async def test_a_stream_holds_its_slot_until_its_last_event() -> None:
    app = create_app(fast_settings(slots=1, max_queue=0, per_token_ms=20, output_tokens=10, jitter=0))
    capacity = app.state.capacity
    async with asgi_client(app) as client:
        stream = asyncio.create_task(client.post("/v1/chat/completions", json={**CHAT, "stream": True}))
        await wait_until(lambda: capacity.in_flight == 1)
        await asyncio.sleep(0.05)  # the stream is between its tokens now
        blocked = await client.post("/v1/chat/completions", json=CHAT)
        finished = await stream
    assert blocked.status_code == 503
    assert finished.status_code == 200 and sse_payloads(finished.text)[-1] == "[DONE]"
    assert (capacity.in_flight, capacity.served, capacity.rejected) == (0, 1, 1)
