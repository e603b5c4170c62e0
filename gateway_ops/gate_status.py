"""The origin gate's state, read from the gateway's authenticated ``GET /admin/status``.

One small reader (the dashboard's origin panel and the bench use it): the token comes from
``ADMIN_TOKEN`` in the environment, or locally from ``GATEWAY_STATE_DIR/admin_token``, where
``gateway-ops up`` keeps a generated one. Without a token there is nothing to read, and the caller
says so rather than guessing the gate's state from the access log. The token never appears in an
error message.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from .controls.token import read_local_token
from .exceptions import GatewayOpsError

STATUS_PATH = "/admin/status"


def find_admin_token(state_dir: str | Path | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """``ADMIN_TOKEN`` from the environment, else the state folder's token file (the one
    ``gateway_ops.controls.token`` writes and reads), else None."""
    source: Mapping[str, str] = os.environ if environ is None else environ
    token = (source.get("ADMIN_TOKEN") or "").strip()
    if token:
        return token
    return read_local_token(state_dir) if state_dir is not None else None


def read_gate_status(url: str, token: str, *, timeout: float = 5.0,
                     client: httpx.Client | None = None) -> dict[str, Any]:
    """The JSON of ``GET {url}/admin/status`` (README, "Origin gate and pool").

    :raises GatewayOpsError: when the gateway cannot be reached, refuses the token (401), has no
        admin API (404: ADMIN_TOKEN is not set on the Worker) or answers something else
    """
    endpoint = url.rstrip("/") + STATUS_PATH
    headers = {"Authorization": f"Bearer {token}"}
    try:
        if client is None:
            response = httpx.get(endpoint, headers=headers, timeout=timeout)
        else:
            response = client.get(endpoint, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        raise GatewayOpsError(f"Cannot reach the gateway's status endpoint {endpoint}: {type(error).__name__}.") from None
    if response.status_code == 401:
        raise GatewayOpsError("The gateway refused the admin token (401): ADMIN_TOKEN differs from the Worker's.")
    if response.status_code == 404:
        raise GatewayOpsError("The gateway has no admin API (404): set ADMIN_TOKEN on the Worker.")
    if response.status_code != 200:
        raise GatewayOpsError(f"The gateway's status endpoint answered HTTP {response.status_code}.")
    try:
        status = response.json()
    except ValueError:
        raise GatewayOpsError("The gateway's status endpoint did not answer JSON.") from None
    return checked_gate_status(status)


def checked_gate_status(status: Any) -> dict[str, Any]:
    """``status`` when it is a status answer with the gate's per-origin list.

    :raises GatewayOpsError: when it is not
    """
    if not isinstance(status, dict) or not isinstance(status.get("origins"), list):
        raise GatewayOpsError("The gateway's status answer has no 'origins' list.")
    return status
