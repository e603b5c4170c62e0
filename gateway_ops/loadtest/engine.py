"""The load generator: sends a schedule of requests and writes one :class:`Record` per request.

Two models:

* **open** (:func:`run_open`) — request *i* starts at ``t0 + offset[i]`` of an absolute schedule,
  whether or not earlier requests finished, so a slow gateway cannot hide its latency
  (coordinated omission). The scheduler sleeps until each absolute due time (never summed
  sleeps); each record keeps the intended and the actual send time, so latency is measured from
  the intended time and the engine's own lateness (send lag) is reported. A cap on requests in
  flight protects the machine: a start that would exceed it is either dropped and counted, as
  k6's ``dropped_iterations`` (``when_full="drop"``, the default), or waits (``"wait"``, for bursts
  that must all be sent).
* **closed** (:func:`run_closed`) — N virtual users, each sending, waiting for the answer, then
  thinking, until the duration is over.

Timing, status and the headers the checks need are recorded here; statistics live in
:mod:`.stats`. The sync entry points work from a script and from a Jupyter cell (whose event loop
is already running: the run then gets its own loop in a helper thread).
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pandas as pd
from tqdm.auto import tqdm

from ..client import Credentials
from .errors import LoadTestError
from .records import DROPPED, Record, records_frame
from .schedule import Arrival
from .transports import Transport, make_transport

CHAT_PATH = "/v1/chat/completions"
_COMPLETION_TOKENS = re.compile(rb'"completion_tokens"\s*:\s*(\d+)')
_CONTENT_TOKEN = re.compile(rb'"content"\s*:\s*"[^"]')
BODY_SNIPPET = 300

T = TypeVar("T")


@dataclass(frozen=True)
class RequestTemplate:
    """The request every arrival sends (only the user headers differ)."""

    body: bytes
    stream: bool = False
    method: str = "POST"
    path: str = CHAT_PATH


def chat_request(*, model: str = "loadtest", prompt_tokens: int = 16, max_tokens: int | None = None,
                 stream: bool = False) -> RequestTemplate:
    """A chat completion with a prompt of about ``prompt_tokens`` tokens (4 characters each).

    Streams ask for ``stream_options.include_usage`` so the output token count is exact.
    """
    if prompt_tokens < 1:
        raise LoadTestError(f"The prompt must be at least 1 token, got {prompt_tokens}.")
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": ("load " * prompt_tokens)[:4 * prompt_tokens]}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return RequestTemplate(json.dumps(body, separators=(",", ":")).encode(), stream=stream)


@dataclass(frozen=True)
class EngineOptions:
    """How the engine sends: client, in-flight cap and what to do at it, timeout, progress."""

    transport: str | Transport = "aiohttp"
    max_in_flight: int = 256
    when_full: Literal["drop", "wait"] = "drop"
    timeout_s: float = 60.0
    key_secret: str | None = field(default=None, repr=False)
    #: GATEWAY_CLIENT_API_KEY: sent as ``Authorization: Bearer …`` for the origin
    api_key: str | None = field(default=None, repr=False)
    progress: bool = True
    description: str = "requests"

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise LoadTestError(f"max_in_flight must be at least 1, got {self.max_in_flight}.")
        if self.when_full not in ("drop", "wait"):
            raise LoadTestError(f"when_full must be 'drop' or 'wait', got {self.when_full!r}.")
        if not self.timeout_s > 0:
            raise LoadTestError(f"The timeout must be positive, got {self.timeout_s}.")


@dataclass
class Run:
    """The records of one run, with the epoch time of its t0 (to place requests in UTC minutes)."""

    records: list[Record]
    wall_t0: float
    transport: str
    elapsed_s: float = 0.0

    def frame(self) -> pd.DataFrame:
        return records_frame(self.records, self.wall_t0)


class _StreamMeter:
    """Reads server-sent events as they arrive: first/last content token times and the count."""

    __slots__ = ("_tail", "first_s", "last_s", "counted", "usage")

    def __init__(self) -> None:
        self._tail = b""
        self.first_s = float("nan")
        self.last_s = float("nan")
        self.counted = 0
        self.usage: int | None = None

    def feed(self, chunk: bytes, now_s: float) -> None:
        events = (self._tail + chunk).split(b"\n\n")
        self._tail = events.pop()
        for event in events:
            if _CONTENT_TOKEN.search(event):
                if self.counted == 0:
                    self.first_s = now_s
                self.counted += 1
                self.last_s = now_s
            elif b'"usage"' in event:
                found = _COMPLETION_TOKENS.search(event)
                if found:
                    self.usage = int(found.group(1))

    @property
    def tokens(self) -> int:
        return self.usage if self.usage is not None else self.counted


class Engine:
    """Sends one :class:`RequestTemplate` to ``base_url`` for each arrival of a schedule."""

    def __init__(self, base_url: str, request: RequestTemplate, options: EngineOptions | None = None):
        self.url = base_url.rstrip("/") + request.path
        self.request = request
        self.options = options or EngineOptions()
        self._headers: dict[str, dict[str, str]] = {}

    def headers_for(self, user_id: str) -> dict[str, str]:
        """The user's request headers (``X-User-Key`` and ``Authorization`` too when configured)."""
        headers = self._headers.get(user_id)
        if headers is None:
            credentials = Credentials(key_secret=self.options.key_secret, api_key=self.options.api_key)
            headers = {"Content-Type": "application/json", **credentials.headers(user_id)}
            self._headers[user_id] = headers
        return headers

    async def _send(self, transport: Transport, record: Record, t0: float) -> None:
        clock = time.perf_counter
        record.start_s = clock() - t0
        try:
            async with transport.request(self.request.method, self.url, self.headers_for(record.user_id),
                                         self.request.body) as reply:
                record.first_byte_s = clock() - t0
                status = record.status = reply.status
                headers = reply.headers
                record.request_id = headers.get("X-Request-ID", "")
                record.rl_limit = headers.get("X-RateLimit-Limit", "")
                record.rl_remaining = headers.get("X-RateLimit-Remaining", "")
                record.rl_reset = headers.get("X-RateLimit-Reset", "")
                record.retry_after = headers.get("Retry-After", "")
                if self.request.stream and status == 200:
                    meter = _StreamMeter()
                    async for chunk in reply.chunks():
                        meter.feed(chunk, clock() - t0)
                    record.first_token_s, record.last_token_s = meter.first_s, meter.last_s
                    record.output_tokens = meter.tokens
                else:
                    body = await reply.read()
                    if 200 <= status < 300:
                        found = _COMPLETION_TOKENS.search(body)
                        record.output_tokens = int(found.group(1)) if found else 0
                    else:
                        record.body = body[:BODY_SNIPPET].decode("utf-8", "replace")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # every client failure becomes an error type on the record
            record.error = transport.classify(error)
        record.end_s = clock() - t0

    async def run_open_async(self, arrivals: Sequence[Arrival], bar: Any = None) -> Run:
        """Sends each arrival at ``t0 + offset`` (see the module docstring); returns every record."""
        options = self.options
        transport = make_transport(options.transport)
        records: list[Record] = []
        pending: set[asyncio.Task] = set()
        limit = asyncio.Semaphore(options.max_in_flight)
        in_flight = 0

        def done(task: asyncio.Task) -> None:
            nonlocal in_flight
            in_flight -= 1
            pending.discard(task)
            if bar is not None:
                bar.update(1)

        async def send_waiting(record: Record, t0: float) -> None:
            async with limit:
                await self._send(transport, record, t0)

        await transport.open(options.max_in_flight, options.timeout_s)
        try:
            clock, sleep, loop = time.perf_counter, asyncio.sleep, asyncio.get_running_loop()
            wall_t0, t0 = time.time(), clock()
            for arrival in sorted(arrivals, key=lambda a: a.offset_s):
                record = Record(arrival.index, arrival.step, arrival.user_id, arrival.offset_s, self.request.stream)
                records.append(record)
                delay = t0 + arrival.offset_s - clock()
                if delay > 0:
                    await sleep(delay)
                if in_flight >= options.max_in_flight and options.when_full == "drop":
                    record.error = DROPPED
                    if bar is not None:
                        bar.update(1)
                    continue
                in_flight += 1
                send = send_waiting(record, t0) if options.when_full == "wait" else self._send(transport, record, t0)
                task = loop.create_task(send)
                pending.add(task)
                task.add_done_callback(done)
            while pending:
                await asyncio.wait(list(pending))
            elapsed = clock() - t0
        finally:
            for task in list(pending):
                task.cancel()
            await transport.close()
        return Run(records, wall_t0, transport.name, elapsed)

    async def run_closed_async(self, users: Sequence[str], duration_s: float, think_s: float = 0.0,
                               bar: Any = None) -> Run:
        """``len(users)`` virtual users loop send → answer → think until ``duration_s`` is over."""
        if duration_s <= 0:
            raise LoadTestError(f"The duration must be positive, got {duration_s}.")
        if think_s < 0:
            raise LoadTestError(f"The think time must be 0 or more, got {think_s}.")
        transport = make_transport(self.options.transport)
        records: list[Record] = []
        clock = time.perf_counter

        async def user(step: int, user_id: str, t0: float) -> None:
            deadline = t0 + duration_s
            while clock() < deadline:
                record = Record(len(records), step, user_id, clock() - t0, self.request.stream)
                records.append(record)
                await self._send(transport, record, t0)
                if bar is not None:
                    bar.update(1)
                if think_s:
                    await asyncio.sleep(think_s)

        await transport.open(max(len(users), 1), self.options.timeout_s)
        try:
            wall_t0, t0 = time.time(), clock()
            await asyncio.gather(*(user(0, user_id, t0) for user_id in users))
            elapsed = clock() - t0
        finally:
            await transport.close()
        return Run(records, wall_t0, transport.name, elapsed)


def run_sync(make_coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs a coroutine to completion from sync code — in a helper thread with its own event loop
    when this thread already runs one (a Jupyter cell), so notebooks call the engine plainly."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make_coroutine())
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="loadtest-engine", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _bar(total: int | None, options: EngineOptions):
    return tqdm(total=total, desc=options.description, unit="req", disable=not options.progress,
                mininterval=0.5, leave=True, dynamic_ncols=True)


def run_open(base_url: str, arrivals: Sequence[Arrival], request: RequestTemplate,
             options: EngineOptions | None = None) -> Run:
    """Sync open-model run with a progress bar (see :meth:`Engine.run_open_async`)."""
    engine = Engine(base_url, request, options)
    with _bar(len(arrivals), engine.options) as bar:
        return run_sync(lambda: engine.run_open_async(arrivals, bar))


def run_closed(base_url: str, users: Sequence[str], request: RequestTemplate, duration_s: float,
               think_s: float = 0.0, options: EngineOptions | None = None) -> Run:
    """Sync closed-model run with a progress bar (see :meth:`Engine.run_closed_async`)."""
    engine = Engine(base_url, request, options)
    with _bar(None, engine.options) as bar:
        return run_sync(lambda: engine.run_closed_async(users, duration_s, think_s, bar))

