"""The ``/_origin/`` control endpoints: how a test in another process inspects and steers the origin.

The gateway's integration tests run the origin as a subprocess and talk to it only over HTTP, so
everything a test needs in-process (``app.state.recorder``, ``.capacity``, ``.faults``) is also
reachable here:

* ``GET /_origin/requests[?last=N]`` / ``DELETE /_origin/requests`` — what was received / forget it.
* ``GET /_origin/stats`` / ``DELETE /_origin/stats`` — capacity counters / zero the totals.
* ``GET|PUT|DELETE /_origin/faults`` — read / change (partial JSON object) / turn off the faults.
* ``GET /_origin/health`` — a readiness probe that is never faulted, recorded or refused; it also
  says how strict the origin is (``access``: ``open``, ``api-key`` or ``codex``;
  ``reject_unknown_models``), never the credential itself.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .replies import BadRequest, json_object


def control_routes() -> list[Route]:
    return [
        Route("/_origin/health", health, methods=["GET"]),
        Route("/_origin/requests", list_requests, methods=["GET"]),
        Route("/_origin/requests", clear_requests, methods=["DELETE"]),
        Route("/_origin/stats", stats, methods=["GET"]),
        Route("/_origin/stats", reset_stats, methods=["DELETE"]),
        Route("/_origin/faults", get_faults, methods=["GET"]),
        Route("/_origin/faults", put_faults, methods=["PUT"]),
        Route("/_origin/faults", reset_faults, methods=["DELETE"]),
    ]


async def health(request: Request) -> Response:
    settings = request.app.state.settings
    return JSONResponse({
        "status": "ok",
        "profile": settings.profile.name,
        "access": settings.access.mode,
        "reject_unknown_models": settings.reject_unknown_models,
    })


async def list_requests(request: Request) -> Response:
    recorder = request.app.state.recorder
    last = request.query_params.get("last")
    items = recorder.all() if last is None else recorder.last(_non_negative_int(last, "last"))
    return JSONResponse([item.to_dict() for item in items])


async def clear_requests(request: Request) -> Response:
    recorder = request.app.state.recorder
    cleared = len(recorder)
    recorder.clear()
    return JSONResponse({"cleared": cleared})


async def stats(request: Request) -> Response:
    return JSONResponse(_stats(request))


async def reset_stats(request: Request) -> Response:
    request.app.state.capacity.reset_counters()
    return JSONResponse(_stats(request))


async def get_faults(request: Request) -> Response:
    return JSONResponse(request.app.state.faults.to_dict())


async def put_faults(request: Request) -> Response:
    faults = request.app.state.faults
    try:
        faults.update(await json_object(request))
    except ValueError as exc:
        raise BadRequest(str(exc), "invalid_fault_settings") from None
    return JSONResponse(faults.to_dict())


async def reset_faults(request: Request) -> Response:
    request.app.state.faults.reset()
    return JSONResponse(request.app.state.faults.to_dict())


def _stats(request: Request) -> dict[str, object]:
    state = request.app.state
    return {**state.capacity.snapshot(), "profile": state.settings.profile.name, "recorded": len(state.recorder)}


def _non_negative_int(raw: str, name: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise BadRequest(f"'{name}' must be a whole number ≥ 0, got {raw!r}.", f"invalid_{name}", name)
    return value
