"""The HTTP clients the engine can send with, behind one small interface.

Chosen on measurement, not habit: on this project's 2-core machines httpx's ``AsyncClient``
managed about 320 requests/s at concurrency 10 and collapsed at 50, aiohttp about 2,200 — so
aiohttp is the default and httpx stays available for comparison (``transport="httpx"``).

A transport opens a response as an async context manager yielding a :class:`Reply` (status,
headers, body chunks as they arrive); the engine does all timing and parsing, so both transports
are measured the same way. ``classify`` turns a client's exception into a short error type.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Protocol

from .errors import LoadTestError

if TYPE_CHECKING:  # imported lazily at run time: only the transport in use is loaded
    import aiohttp
    import httpx


class Reply(Protocol):
    """A response whose headers have arrived; the body is read with ``chunks()``."""

    status: int
    headers: Mapping[str, str]

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def read(self) -> bytes: ...


class Transport(Protocol):
    """An HTTP client the engine sends through (see :func:`make_transport`)."""

    name: str

    async def open(self, max_connections: int, timeout_s: float) -> None: ...

    async def close(self) -> None: ...

    def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
                ) -> AbstractAsyncContextManager[Reply]: ...

    def classify(self, error: BaseException) -> str: ...


def _aiohttp_response_class():
    """aiohttp's response with the :class:`Reply` methods added: a subclass passed to the session
    (``response_class``), so no wrapper object or generator is made per request."""
    import aiohttp

    class AiohttpReply(aiohttp.ClientResponse):
        async def chunks(self) -> AsyncIterator[bytes]:
            async for chunk in self.content.iter_any():
                yield chunk

    return AiohttpReply


class AiohttpTransport:
    """aiohttp's ``ClientSession`` with one connection pool sized to the in-flight cap."""

    name = "aiohttp"

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def open(self, max_connections: int, timeout_s: float) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s), skip_auto_headers=("User-Agent",),
            response_class=_aiohttp_response_class(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None):
        # aiohttp's own context manager: its response already has status, headers, read(), chunks()
        assert self._session is not None, "open() first"
        return self._session.request(method, url, headers=headers, data=body)

    def classify(self, error: BaseException) -> str:
        import aiohttp

        if isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
            return "timeout"
        if isinstance(error, aiohttp.ClientConnectorError):
            return "connect"
        if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
            return "disconnected"
        if isinstance(error, aiohttp.ClientResponseError):
            return "protocol"
        return type(error).__name__


class _HttpxReply:
    __slots__ = ("status", "headers", "_response")

    def __init__(self, response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self._response = response

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_bytes():
            yield chunk

    async def read(self) -> bytes:
        return await self._response.aread()


class HttpxTransport:
    """httpx's ``AsyncClient`` (slower here; kept for comparison)."""

    name = "httpx"

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def open(self, max_connections: int, timeout_s: float) -> None:
        import httpx

        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @asynccontextmanager
    async def request(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None):
        assert self._client is not None, "open() first"
        async with self._client.stream(method, url, headers=headers, content=body) as response:
            yield _HttpxReply(response)

    def classify(self, error: BaseException) -> str:
        import httpx

        if isinstance(error, httpx.TimeoutException | asyncio.TimeoutError):
            return "timeout"
        if isinstance(error, httpx.ConnectError):
            return "connect"
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
            return "disconnected"
        return type(error).__name__


TRANSPORTS: dict[str, type[Transport]] = {"aiohttp": AiohttpTransport, "httpx": HttpxTransport}


def make_transport(name: str | Transport = "aiohttp") -> Transport:
    """A transport by name (``aiohttp`` default, ``httpx``), or the given instance unchanged.

    :raises LoadTestError: for an unknown name (listing the known ones)
    """
    if not isinstance(name, str):
        return name
    try:
        return TRANSPORTS[name]()
    except KeyError:
        raise LoadTestError(f"Unknown transport {name!r}: use one of {', '.join(TRANSPORTS)}.") from None
