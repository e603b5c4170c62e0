"""Fixtures for the simulated-origin tests: an in-process client and a live loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from gateway_ops.origin import create_app, running_app

from .helpers import LiveOrigin, asgi_client, fast_settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app() -> Starlette:
    return create_app(fast_settings())


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c


@pytest.fixture(scope="module")
def _live_origin() -> Iterator[LiveOrigin]:
    app = create_app(fast_settings())
    with running_app(app) as url:
        yield LiveOrigin(url, app)


@pytest.fixture
def live(_live_origin: LiveOrigin) -> LiveOrigin:
    """A real origin on loopback shared by a module, with faults, record and counters reset."""
    state = _live_origin.app.state
    state.faults.reset()
    state.recorder.clear()
    state.capacity.reset_counters()
    return _live_origin
