"""Shared helpers for the simulated-origin tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from gateway_ops.origin import OriginSettings, resolve_profile

CHAT: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello, origin!"}]}


def fast_settings(**profile_overrides: Any) -> OriginSettings:
    """The ``instant`` profile with overrides (``slots=2, latency_ms=200`` …)."""
    return OriginSettings(profile=resolve_profile("instant", **profile_overrides))


def asgi_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://origin.test")


def sse_payloads(text: str) -> list[Any]:
    """The ``data:`` payloads of an event stream; JSON decoded, ``[DONE]`` kept as the string."""
    events = [block for block in text.split("\n\n") if block]
    assert all(block.startswith("data: ") for block in events), events
    return [block[6:] if block[6:] == "[DONE]" else json.loads(block[6:]) for block in events]


@dataclass
class LiveOrigin:
    url: str
    app: Starlette
