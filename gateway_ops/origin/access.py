"""Who may use the simulated origin: nobody is asked (the default), or, as a real server asks,
an API key (``Authorization: Bearer KEY``) or, in codex mode, a Codex token (``X-Codex-Token``).

A refused ``/v1/*`` request gets 401 in OpenAI's shape (``invalid_request_error`` /
``invalid_api_key``) before routing, faults or capacity see it, the way a real server's front end
turns away a stranger before any model runs. Keys are compared in constant time and never appear
in an answer, a ``repr`` or the request record (:func:`redact` hides them there).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Literal

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .payloads import error_body

PROTECTED_PREFIX = "/v1/"
CODEX_HEADER = "x-codex-token"
REDACTED = "[redacted]"
Mode = Literal["open", "api-key", "codex"]


@dataclass(frozen=True)
class AccessSettings:
    """The credential the origin requires: ``api_key`` (OpenAI mode) or ``codex_token`` (codex
    mode, which then ignores ``Authorization``), or neither (any request is served)."""

    api_key: str | None = field(default=None, repr=False)
    codex_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.api_key is not None and self.codex_token is not None:
            raise ValueError("give an API key or a Codex token, not both: codex mode ignores Authorization")
        for name, value in (("API key", self.api_key), ("Codex token", self.codex_token)):
            if value is not None and not value.strip():
                raise ValueError(f"the {name} is empty")

    @property
    def mode(self) -> Mode:
        if self.codex_token is not None:
            return "codex"
        return "api-key" if self.api_key is not None else "open"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in (self.api_key, self.codex_token) if value is not None)


@dataclass(frozen=True)
class Refusal:
    message: str
    code: str = "invalid_api_key"


def refusal(access: AccessSettings, headers: dict[str, str]) -> Refusal | None:
    """Why a request with these (lower-case) headers is refused, or None when it may pass."""
    if access.codex_token is not None:
        token = headers.get(CODEX_HEADER)
        if not token:
            return Refusal("You didn't provide a Codex token. Send it in the X-Codex-Token header.")
        if not _same(token, access.codex_token):
            return Refusal("Incorrect Codex token provided in the X-Codex-Token header.")
        return None
    if access.api_key is not None:
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return Refusal(
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        if not _same(key.strip(), access.api_key):
            return Refusal("Incorrect API key provided. Check the key this origin was started with.")
    return None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def redact(value: str, secrets: tuple[str, ...]) -> str:
    """``value`` with a header that carries one of ``secrets`` (bare or as ``Bearer …``) masked."""
    for secret in secrets:
        if value == secret:
            return REDACTED
        scheme, _, rest = value.partition(" ")
        if rest.strip() == secret:
            return f"{scheme} {REDACTED}"
    return value


class AccessMiddleware:
    """Pure ASGI middleware: refuses ``/v1/*`` requests without the credential, 401 in OpenAI's shape."""

    def __init__(self, app: ASGIApp, access: AccessSettings) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.access.mode != "open" and _protected(scope["path"]):
            headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
            refused = refusal(self.access, headers)
            if refused is not None:
                body = error_body(refused.message, "invalid_request_error", refused.code)
                await JSONResponse(body, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _protected(path: str) -> bool:
    return path == PROTECTED_PREFIX.rstrip("/") or path.startswith(PROTECTED_PREFIX)
