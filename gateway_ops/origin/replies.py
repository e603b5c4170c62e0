"""HTTP helpers shared by the origin's route modules: errors, JSON bodies, and deliberate drops.

Kept apart from the routes so the OpenAI routes and the ``/_origin/`` control routes answer
errors the same way (``{"error": {...}}``) and parse bodies the same way (400 on invalid JSON).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .faults import FaultPlan
from .payloads import error_body


class BadRequest(Exception):
    """A client error; the app answers it 400 with an OpenAI-style ``invalid_request_error``."""

    def __init__(self, message: str, code: str = "invalid_request", param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


class SimulatedDrop(Exception):
    """Raised mid-response on purpose so the server aborts the connection (the ``drop`` fault)."""


def error_response(
    status: int, message: str, type_: str, code: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, type_, code), status_code=status, headers=headers)


async def bad_request_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    body = error_body(exc.message, "invalid_request_error", exc.code, exc.param)
    return JSONResponse(body, status_code=400)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Starlette's 404/405 (and any other HTTPException) as OpenAI-style JSON errors."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Unknown request URL: {request.method} {request.url.path}. Please check the URL for typos."
        return error_response(404, message, "invalid_request_error", "unknown_url")
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
        return error_response(405, message, "invalid_request_error", "method_not_allowed", exc.headers)
    return error_response(exc.status_code, str(exc.detail), "invalid_request_error", None, exc.headers)


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object. :raises BadRequest: when it is not one."""
    raw = await request.body()
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        raise BadRequest(
            "We could not parse the JSON body of your request. The body must be valid JSON.", "invalid_json"
        ) from None
    if not isinstance(parsed, dict):
        raise BadRequest("The JSON body of your request must be an object.", "invalid_json")
    return parsed


def json_answer(payload: Any, plan: FaultPlan | None = None) -> Response:
    """A JSON 200. With a ``drop`` or ``stall`` fault the full Content-Length is promised but the
    body is sent in two halves: a stall goes silent between them, a drop aborts after the first."""
    if plan is None or (not plan.drop and plan.stall_ms is None):
        return JSONResponse(payload)
    body = json.dumps(payload).encode()
    headers = {"content-length": str(len(body))}
    return StreamingResponse(_in_halves(body, plan), media_type="application/json", headers=headers)


async def _in_halves(body: bytes, plan: FaultPlan) -> AsyncIterator[bytes]:
    yield body[: len(body) // 2]
    if plan.stall_ms is not None:
        await stall(plan.stall_ms)
    if plan.drop:
        raise SimulatedDrop("drop fault: connection aborted mid-body")
    yield body[len(body) // 2 :]


async def stall(ms: float) -> None:
    """Silence mid-answer for ``ms`` (infinite: until the client leaves, when Starlette cancels the
    response that waits here)."""
    if math.isinf(ms):
        await asyncio.Event().wait()
    else:
        await asyncio.sleep(ms / 1000.0)
