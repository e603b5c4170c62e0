"""The simulated OpenAI-compatible origin as a Starlette app: the thing the gateway proxies to.

``create_app`` wires the OpenAI surface (chat completions, plain and streamed; models;
embeddings) to the capacity model, the fault settings and the request recorder. Every generation
holds a slot for its whole duration — a stream until its last event — so a load test through the
gateway measures the origin's real concurrency limit. The ``/_origin/`` control endpoints live in
:mod:`.control`; the credential ``/v1/*`` may require, in :mod:`.access`.

Like a real server, it answers a malformed body 400 (not JSON, not an object, a missing or
mistyped field) and, with ``reject_unknown_models``, a model it does not list 404
``model_not_found`` — both before a generation slot is taken.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import payloads
from .access import AccessMiddleware
from .capacity import Capacity, LatencyModel, Lease, QueueFull, Timing
from .control import control_routes
from .faults import FAULT_HEADER, FaultPlan, plan_faults
from .recorder import Recorder, RecordingMiddleware
from .replies import (
    BadRequest,
    SimulatedDrop,
    bad_request_handler,
    error_response,
    http_exception_handler,
    json_answer,
    json_object,
    stall,
)
from .settings import OriginSettings

MALFORMED_BODY = b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"message": '
MAX_EMBEDDING_DIM = 4096

Handler = Callable[[Request, FaultPlan], Awaitable[Response]]


def create_app(settings: OriginSettings | None = None) -> Starlette:
    """Build one origin. Its live parts are on ``app.state``: ``settings``, ``faults``,
    ``recorder``, ``capacity`` and ``latency``."""
    settings = settings or OriginSettings()
    recorder = Recorder(settings.recorder_size)
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/embeddings", create_embeddings, methods=["POST"]),
            *control_routes(),
        ],
        middleware=[
            Middleware(
                RecordingMiddleware,
                recorder=recorder,
                json_limit=settings.json_record_limit,
                secrets=settings.access.secrets,
            ),
            Middleware(AccessMiddleware, access=settings.access),
        ],
        exception_handlers={HTTPException: http_exception_handler, BadRequest: bad_request_handler},
    )
    profile = settings.profile
    app.state.settings = settings
    app.state.faults = settings.faults
    app.state.recorder = recorder
    app.state.capacity = Capacity(profile.slots, profile.max_queue)
    app.state.latency = LatencyModel(profile.base_ms, profile.per_token_ms, profile.jitter, settings.seed)
    app.state.fault_rng = random.Random(settings.seed)
    app.state.ids = itertools.count(1)
    return app


# --- faults applied before any endpoint -------------------------------------------------------


async def with_faults(request: Request, handler: Handler) -> Response:
    """Apply this request's faults (settings read now, plus ``X-Origin-Fault``), then ``handler``."""
    state = request.app.state
    try:
        plan = plan_faults(state.faults, request.headers.get(FAULT_HEADER), state.fault_rng)
    except ValueError as exc:
        raise BadRequest(str(exc), "invalid_fault_header") from None
    if plan.hang:
        await _wait_for_disconnect(request)
        return Response(status_code=499)  # nobody is listening any more
    if plan.slow_headers_ms > 0:
        await asyncio.sleep(plan.slow_headers_ms / 1000.0)
    if plan.error:
        message = "The simulated origin failed (injected fault)."
        return error_response(plan.error_status, message, "server_error", "origin_fault")
    if plan.malformed:
        return Response(MALFORMED_BODY, media_type="application/json")
    return await handler(request, plan)


async def _wait_for_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


# --- chat completions --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatRequest:
    model: str
    prompt_tokens: int
    stream: bool
    include_usage: bool
    max_tokens: int | None


async def chat_completions(request: Request) -> Response:
    return await with_faults(request, _chat)


async def _chat(request: Request, plan: FaultPlan) -> Response:
    chat = parse_chat(await json_object(request))
    state = request.app.state
    if (refused := _unknown_model(state.settings, chat.model)) is not None:
        return refused
    output_tokens, finish_reason = _output_plan(state.settings.profile.output_tokens, chat.max_tokens)
    try:
        lease = await state.capacity.acquire()
    except QueueFull as exc:
        return error_response(503, str(exc), "server_error", "origin_overloaded", {"retry-after": "1"})
    timing = state.latency.sample(output_tokens)
    id_, created = f"chatcmpl-origin{next(state.ids):08d}", int(time.time())
    usage = payloads.usage(chat.prompt_tokens, output_tokens)
    if chat.stream:
        chunks = payloads.ChunkFactory(id_, created, chat.model, chat.include_usage)
        return await _start_stream(lease, timing, chunks, finish_reason, usage, plan)
    try:
        await asyncio.sleep(timing.total_s)
    finally:
        lease.release()
    content = "".join(payloads.tokens(output_tokens))
    return json_answer(payloads.chat_completion(id_, created, chat.model, content, finish_reason, usage), plan)


#: Optional chat fields and the JSON types a real server accepts for them (null is always accepted).
OPTIONAL_CHAT_FIELDS: dict[str, tuple[type, ...]] = {
    "stream": (bool,),
    "stream_options": (dict,),
    "temperature": (int, float),
    "top_p": (int, float),
    "presence_penalty": (int, float),
    "frequency_penalty": (int, float),
    "n": (int,),
    "stop": (str, list),
    "user": (str,),
}
JSON_TYPE_NAMES = {bool: "a boolean", dict: "an object", int: "a number", float: "a number", str: "a string",
                   list: "an array"}


def parse_chat(body: dict[str, Any]) -> ChatRequest:
    """Validate the fields the origin uses. :raises BadRequest: naming the bad field."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("You must provide a model parameter.", "missing_model", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array.", "invalid_messages", "messages")
    for index, message in enumerate(messages):
        _check_message(index, message)
    for name, types in OPTIONAL_CHAT_FIELDS.items():
        _check_type(body.get(name), types, name)
    options = body.get("stream_options")
    return ChatRequest(
        model=model,
        prompt_tokens=max(1, payloads.estimate_tokens(payloads.message_text(messages))),
        stream=body.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        max_tokens=_max_tokens(body),
    )


def _check_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise BadRequest(f"Invalid type for '{where}': expected an object.", "invalid_type", where)
    if not isinstance(message.get("role"), str) or not message["role"]:
        raise BadRequest(f"Missing required parameter: '{where}.role'.", "missing_required_parameter", f"{where}.role")
    _check_type(message.get("content"), (str, list), f"{where}.content")


def _check_type(value: Any, types: tuple[type, ...], name: str) -> None:
    """``value`` is null or one of ``types`` (a JSON boolean is not a number). :raises BadRequest:"""
    if value is None or (isinstance(value, types) and not (isinstance(value, bool) and bool not in types)):
        return
    expected = " or ".join(dict.fromkeys(JSON_TYPE_NAMES[t] for t in types))
    raise BadRequest(f"Invalid type for '{name}': expected {expected}.", "invalid_type", name)


def _unknown_model(settings: OriginSettings, model: str) -> Response | None:
    """404 ``model_not_found`` for a model the origin does not list, when it is that strict."""
    if not settings.reject_unknown_models or model in settings.models:
        return None
    message = f"The model `{model}` does not exist or you do not have access to it."
    return error_response(404, message, "invalid_request_error", "model_not_found")


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"'{name}' must be an integer of at least 1.", "invalid_max_tokens", name)
        return value
    return None


def _output_plan(profile_tokens: int, max_tokens: int | None) -> tuple[int, str]:
    if max_tokens is not None and max_tokens < profile_tokens:
        return max_tokens, "length"
    return profile_tokens, "stop"


# --- streaming ---------------------------------------------------------------------------------


class LeasedStreamingResponse(StreamingResponse):
    """A stream that holds its generation slot until the response is over, however it ends."""

    def __init__(self, content: AsyncIterator[bytes], lease: Lease) -> None:
        super().__init__(content, media_type="text/event-stream", headers={"cache-control": "no-cache"})
        self._lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._lease.release()


async def _start_stream(
    lease: Lease,
    timing: Timing,
    chunks: payloads.ChunkFactory,
    finish_reason: str,
    usage: dict[str, int],
    plan: FaultPlan,
) -> Response:
    """Wait the time to first token (slot held), then answer; headers go with the first event."""
    try:
        await asyncio.sleep(timing.ttft_s)
    except BaseException:
        lease.release()
        raise
    events = stream_events(chunks, timing, finish_reason, usage, plan)
    return LeasedStreamingResponse(events, lease)


async def stream_events(
    chunks: payloads.ChunkFactory, timing: Timing, finish_reason: str, usage: dict[str, int], plan: FaultPlan
) -> AsyncIterator[bytes]:
    """Role delta, one content delta per token (``per_token_s`` apart), finish, [usage], [DONE].
    A ``stall`` fault goes silent after the role delta; a ``drop`` aborts there."""
    yield sse(chunks.role())
    if plan.stall_ms is not None:
        await stall(plan.stall_ms)
    if plan.drop:
        raise SimulatedDrop("drop fault: connection aborted after the first event")
    for piece in payloads.tokens(timing.output_tokens):
        if timing.per_token_s > 0:
            await asyncio.sleep(timing.per_token_s)
        yield sse(chunks.content(piece))
    yield sse(chunks.finish(finish_reason))
    if chunks.include_usage:
        yield sse(chunks.usage_only(usage))
    yield b"data: [DONE]\n\n"


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


# --- models and embeddings ---------------------------------------------------------------------


async def list_models(request: Request) -> Response:
    async def answer(request: Request, plan: FaultPlan) -> Response:
        return json_answer(payloads.model_list(request.app.state.settings.models), plan)

    return await with_faults(request, answer)


async def create_embeddings(request: Request) -> Response:
    return await with_faults(request, _embeddings)


async def _embeddings(request: Request, plan: FaultPlan) -> Response:
    body = await json_object(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("You must provide a model parameter.", "missing_model", "model")
    if (refused := _unknown_model(request.app.state.settings, model)) is not None:
        return refused
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'.", "invalid_encoding_format", "encoding_format")
    dim = _dimensions(body, request.app.state.settings.embedding_dim)
    return json_answer(payloads.embeddings(_embedding_inputs(body.get("input")), model, dim, encoding), plan)


def _embedding_inputs(raw: Any) -> list[str]:
    """``input`` as texts: a string, a list of strings, or token arrays (hashed as their JSON)."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(item, int) and not isinstance(item, bool) for item in raw):
            return [json.dumps(raw)]
        if all(isinstance(item, str | list) for item in raw):
            return [item if isinstance(item, str) else json.dumps(item) for item in raw]
    raise BadRequest("'input' must be a string or a non-empty array of strings.", "invalid_input", "input")


def _dimensions(body: dict[str, Any], default: int) -> int:
    value = body.get("dimensions")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EMBEDDING_DIM:
        message = f"'dimensions' must be an integer in [1, {MAX_EMBEDDING_DIM}]."
        raise BadRequest(message, "invalid_dimensions", "dimensions")
    return value
