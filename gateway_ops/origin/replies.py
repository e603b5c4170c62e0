"""HTTP helpers shared by the origin's route modules: errors, JSON bodies, and deliberate drops.

Kept apart from the routes so the OpenAI routes and the ``/_origin/`` control routes answer
errors the same way (``{"error": {...}}``) and parse bodies the same way (400 on invalid JSON).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

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
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(
            "We could not parse the JSON body of your request. The body must be valid JSON.", "invalid_json"
        ) from None
    if not isinstance(parsed, dict):
        raise BadRequest("The JSON body of your request must be an object.", "invalid_json")
    return parsed


def json_answer(payload: Any, drop: bool = False) -> Response:
    """A JSON 200; with ``drop``, the full Content-Length is promised but only half is sent."""
    if not drop:
        return JSONResponse(payload)
    body = json.dumps(payload).encode()
    headers = {"content-length": str(len(body))}
    return StreamingResponse(_half_then_drop(body), media_type="application/json", headers=headers)


async def _half_then_drop(body: bytes) -> AsyncIterator[bytes]:
    yield body[: len(body) // 2]
    raise SimulatedDrop("drop fault: connection aborted mid-body")
