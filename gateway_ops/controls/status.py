"""What `control status` and the dashboard show: the controls and the gate, from ``/admin/status``.

``/admin/status`` carries the gate (issue 13) and, from the Worker's event controls on, the
controls too; a Worker whose status lacks them is asked ``/admin/controls``. The dashboard's line
never guesses: without a token or an answer it says the controls are unknown, and why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ..settings import Settings
from .client import AdminClient
from .errors import AdminError, AdminTokenMissingError, AdminUnavailableError
from .model import Controls
from .token import find_admin_token, missing_token_sentence


@dataclass(frozen=True)
class GatewayStatus:
    """The controls (None when this Worker has none) and the gate's part of ``/admin/status``."""

    controls: Controls | None
    gate: dict[str, Any]
    origins: list[dict[str, Any]]


def read_status(client: AdminClient) -> GatewayStatus:
    """``/admin/status``, plus ``/admin/controls`` when the status does not carry the controls.

    :raises AdminError: when the admin API cannot be used
    """
    status = client.status()
    if not isinstance(status, dict):
        raise AdminError("The gateway's /admin/status is not a JSON object.")
    if "controls" in status:
        controls: Controls | None = Controls.from_json(status["controls"])
    else:
        try:
            controls = client.controls()
        except AdminUnavailableError:
            controls = None  # a Worker with the gate's status but without the event controls
    return GatewayStatus(controls, status.get("gate") or {}, list(status.get("origins") or []))


def status_text(status: GatewayStatus) -> str:
    """The lines `gateway-ops control status` prints."""
    lines = ["Controls:"]
    if status.controls is None:
        lines.append("  (this Worker has no event controls: deploy the current Worker)")
    else:
        width = max(len(name) for name, _ in status.controls.rows())
        lines += [f"  {name:<{width}}  {state}" for name, state in status.controls.rows()]
    gate = status.gate
    if gate:
        state = "on" if gate.get("enabled") else "off (no ORIGIN_MAX_CONCURRENCY)"
        lines.append(f"Origin gate: {state}; waiting {gate.get('waiting', 0)}"
                     + (f" ({gate.get('scope')})" if gate.get("scope") else ""))
    for origin in status.origins:
        limit = origin.get("max_concurrency")
        lines.append(f"  origin {origin.get('origin')} {origin.get('host', '')}: in flight {origin.get('in_flight', 0)}"
                     f"{'/' + str(limit) if limit is not None else ''}, waiting {origin.get('waiting', 0)}, "
                     f"{'healthy' if origin.get('healthy', True) else 'UNHEALTHY'} ({origin.get('state', '?')})")
    return "\n".join(lines)


def controls_line(client: AdminClient | None) -> str:
    """The dashboard's line at the top; never raises, never guesses."""
    if client is None or not client.has_token:
        return "controls: unknown (no admin token)"
    try:
        controls = read_status(client).controls
    except AdminTokenMissingError:
        return "controls: unknown (no admin token)"
    except AdminError as error:
        return f"controls: unknown ({error})"
    if controls is None:
        return "controls: unknown (this Worker has no event controls)"
    return controls.line()


#: A dashboard refresh must not wait long on the admin API.
DASHBOARD_TIMEOUT = 3.0
#: How long the dashboard's readers share one ``/admin/status`` answer: less than its shortest refresh (1 s).
DASHBOARD_SHARED_READ_S = 0.5


def dashboard_client(settings: Settings, target: str | None = None, url: str | None = None, *,
                     transport: httpx.BaseTransport | None = None) -> AdminClient | None:
    """The live dashboard's admin client, None without a token: a short timeout, and one
    ``/admin/status`` answer shared by a refresh's origin panel and controls line."""
    token = find_admin_token(settings, target)
    if token is None:
        return None
    return AdminClient(url or settings.gateway_url, token, missing_token=missing_token_sentence(settings, target),
                       timeout=DASHBOARD_TIMEOUT, status_max_age=DASHBOARD_SHARED_READ_S, transport=transport)

