"""A record of every request the simulated origin received, exactly as it arrived.

The gateway's integration tests need to assert what the gateway *forwarded*: which headers
survived, whether the body was rewritten (``stream_options.include_usage``), what the query string
was. :class:`RecordingMiddleware` captures each request before any routing or fault can change
the outcome; :class:`Recorder` keeps the most recent ones in a bounded, thread-safe deque that
tests read in-process (``app.state.recorder``) or over HTTP (``GET /_origin/requests``).
Requests to the ``/_origin/`` control endpoints are not recorded, so reading the record never
changes it. The origin's own credential is the one thing not kept verbatim: a header carrying it
is recorded as ``Bearer [redacted]`` / ``[redacted]`` (see :func:`.access.redact`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import redact

CONTROL_PREFIX = "/_origin/"


@dataclass(frozen=True)
class ReceivedRequest:
    """One received request. ``json`` is the parsed body when it was small and valid JSON."""

    seq: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body_size: int
    json: Any
    at: float
    """``time.monotonic()`` when the body had been read."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recorder:
    """The last ``maxlen`` requests, oldest first. Safe to read from another thread."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._items: deque[ReceivedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def add(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._items.append(request)

    def next_seq(self) -> int:
        with self._lock:
            return next(self._seq)

    def all(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._items)

    def last(self, n: int) -> list[ReceivedRequest]:
        """The ``n`` most recent requests, oldest first."""
        if n <= 0:
            return []
        with self._lock:
            return list(self._items)[-n:]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class RecordingMiddleware:
    """Pure ASGI middleware: read the whole body, record the request, replay the body to the app."""

    def __init__(
        self, app: ASGIApp, recorder: Recorder, json_limit: int = 65_536, secrets: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.json_limit = json_limit
        self.secrets = secrets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read_body(receive)
        self.recorder.add(self._build(scope, body))
        await self.app(scope, _replay(body, disconnected, receive), send)

    def _build(self, scope: Scope, body: bytes) -> ReceivedRequest:
        return ReceivedRequest(
            seq=self.recorder.next_seq(),
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers={name: redact(value, self.secrets) for name, value in _headers(scope).items()},
            body_size=len(body),
            json=_small_json(body, self.json_limit),
            at=time.monotonic(),
        )


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, disconnected: bool, receive: Receive) -> Receive:
    """A receive that yields the buffered body once, then defers to the real one (disconnects)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _small_json(body: bytes, limit: int) -> Any:
    if not body or len(body) > limit:
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):  # deeply nested JSON is not recorded
        return None
