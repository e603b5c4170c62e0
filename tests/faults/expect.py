"""What every fault test checks: the client's answer, exactly one log row, a healthy gateway after.

:func:`call` sends one request with a hard deadline and never raises for what the gateway did
(a reset connection is recorded, not thrown), so a test can assert on whatever came back.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway_ops.accesslog import AccessLog
from helpers import client_headers, fresh_user, wait_until

CLIENT_DEADLINE_S = 15.0
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello through a fault"}], "max_tokens": 16}


@dataclass
class Answer:
    status: int | None
    headers: httpx.Headers | None
    body: bytes
    elapsed: float
    events: list[Any] = field(default_factory=list)
    error: str | None = None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id") if self.headers is not None else None

    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, user: str, *, fault: str | None = None, stream: bool = False, path: str = "/v1/chat/completions",
         deadline: float = CLIENT_DEADLINE_S) -> Answer:
    """One chat completion (or GET ``path``) as ``user``; SSE events parsed when ``stream``."""
    headers = client_headers(user, **({"X-Origin-Fault": fault} if fault else {}))
    method, body = ("POST", {**CHAT, "stream": True} if stream else CHAT) if path.endswith("completions") else ("GET", None)
    started = time.monotonic()
    status = response_headers = None
    received = bytearray()
    error = None
    try:
        with httpx.Client(timeout=httpx.Timeout(deadline)) as client:
            with client.stream(method, url + path, headers=headers, json=body) as response:
                status, response_headers = response.status_code, response.headers
                for chunk in response.iter_bytes():
                    received += chunk
                    if time.monotonic() - started > deadline:
                        error = "deadline"
                        break
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    answer = Answer(status, response_headers, bytes(received), time.monotonic() - started, error=error)
    if stream:
        answer.events = sse_events(answer.body.decode("utf-8", "replace"))
    return answer


def sse_events(text: str) -> list[Any]:
    """The ``data:`` payloads of a stream, JSON-decoded (``[DONE]`` kept as the string)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(line[5:].strip() for line in block.split("\n") if line.startswith("data:"))
        if data:
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def one_row(log: AccessLog, request_id: str | None, timeout: float = 15.0) -> dict[str, Any]:
    """The request's only access-log row (fails when it has none, or more than one)."""
    assert request_id, "the answer carries no X-Request-ID: it was not the gateway's"
    sql = "SELECT * FROM requests WHERE request_id = ?"
    wait_until(lambda: not log.query(sql, [request_id]).empty, timeout, 0.2)
    time.sleep(0.3)  # a second write would land right after the first
    rows = log.query(sql, [request_id])
    assert len(rows) == 1, f"{len(rows)} rows for one request {request_id}"
    return rows.iloc[0].to_dict()


def no_row(log: AccessLog, request_id: str | None, settle: float = 2.0) -> None:
    time.sleep(settle)
    assert log.query("SELECT id FROM requests WHERE request_id = ?", [request_id]).empty


def assert_healthy(url: str, log: AccessLog) -> None:
    """``/health`` answers ok and a fresh user's request is served and logged once."""
    health = httpx.get(f"{url}/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    answer = call(url, fresh_user("after-fault"))
    assert answer.status == 200 and answer.json()["object"] == "chat.completion", answer
    assert one_row(log, answer.request_id)["status"] == 200
