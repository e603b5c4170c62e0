"""The dashboard's origin panel: per origin, in flight, waiting, healthy, served per minute.

The numbers come from the gateway's authenticated status endpoint (``GET /admin/status``), not from the
access log: a row is written when a request ends, so the log cannot say what is in flight or
queued now. Without an admin token the panel says so instead of guessing. Pure parts
(:func:`origin_frame`, :func:`origin_panel_html`) are apart from :class:`OriginPanel`, which reads.
"""
from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..exceptions import GatewayOpsError
from . import tables

if TYPE_CHECKING:
    import httpx

    from ..settings import Settings

ORIGIN_HEADERS = {
    "origin": "origin", "host": "host", "in_flight": "in flight", "max_concurrency": "max", "waiting": "waiting",
    "healthy": "healthy", "state": "state", "served_per_minute": "served/min",
}
NO_TOKEN = ("No admin token: the origin panel needs ADMIN_TOKEN (in the environment, or the local stack's "
            "admin_token file in GATEWAY_STATE_DIR) to read the gateway's /admin/status. Not shown rather "
            "than guessed from the access log.")


def gate_status_of(status: Any) -> dict[str, Any]:
    """``status`` when it is a ``/admin/status`` answer with the gate's per-origin list.

    :raises GatewayOpsError: when it is not
    """
    if not isinstance(status, dict) or not isinstance(status.get("origins"), list):
        raise GatewayOpsError("The gateway's status answer has no 'origins' list.")
    return status


def origin_frame(status: dict[str, Any]) -> pd.DataFrame:
    """One row per origin of a ``/admin/status`` answer, in the panel's columns."""
    rows = [{
        "origin": str(origin.get("origin", "")),
        "host": origin.get("host", ""),
        "in_flight": int(origin.get("in_flight", 0)),
        "max_concurrency": origin.get("max_concurrency"),
        "waiting": int(origin.get("waiting", 0)),
        "healthy": "yes" if origin.get("healthy") else "no",
        "state": origin.get("state", ""),
        "served_per_minute": int(origin.get("served_last_minute", 0)),
    } for origin in status.get("origins", [])]
    return pd.DataFrame(rows, columns=list(ORIGIN_HEADERS))


def origins_frame_hosts(status: dict[str, Any]) -> list[str]:
    """The hosts the panel must show (one per origin), escaped as the table shows them."""
    return [html.escape(str(host)) for host in origin_frame(status)["host"]]


def gate_summary(status: dict[str, Any]) -> str:
    """One line on the gate: on (scope, queue) or off (per-isolate numbers)."""
    gate = status.get("gate") or {}
    if not gate.get("enabled"):
        return "Gate off (ORIGIN_MAX_CONCURRENCY unset): numbers are the answering isolate's own."
    return (f"Gate on: {int(gate.get('waiting', 0))} waiting of {int(gate.get('queue_capacity', 0))} places, "
            f"queue timeout {int(gate.get('queue_timeout_ms', 0)) / 1000:g} s.")


def origin_panel_html(status: dict[str, Any] | None, message: str | None = None) -> str:
    """The panel: the gate's line and the per-origin table, or only ``message`` when there is no status."""
    if status is None:
        return f"<p class='gw-legend' data-origin-panel='message'>{html.escape(message or '')}</p>{tables.STYLE}"
    generated = html.escape(str(status.get("generated_at", "")))
    note = f"<p class='gw-legend'>⚠ {html.escape(message)}</p>" if message else ""
    table = tables.html_table(origin_frame(status), ORIGIN_HEADERS, user_column=None, empty="no origins")
    return (f"{note}<p class='gw-legend' data-origin-panel='status'>{html.escape(gate_summary(status))} "
            f"As of {generated}.</p>{table}{tables.STYLE}")


class OriginPanel:
    """Reads the gate's status on each refresh; keeps the last good one when a read fails.

    :param read: returns the status JSON (:func:`admin_views` binds it), or None
        when there is no token to read it with
    """

    def __init__(self, read: Callable[[], dict[str, Any]] | None):
        self.read = read
        self.status: dict[str, Any] | None = None
        self.error: str | None = None if read is not None else NO_TOKEN

    def refresh(self) -> str:
        """Reads the status (never raises for a failing gateway) and returns the panel's HTML."""
        if self.read is not None:
            try:
                self.status, self.error = self.read(), None
            except GatewayOpsError as error:
                self.error = str(error)
        return origin_panel_html(self.status, self.error)


def admin_views(settings: Settings, target: str | None = None, url: str | None = None, *,
                transport: httpx.BaseTransport | None = None) -> tuple[OriginPanel, Callable[[], str]]:
    """The live dashboard's origin panel and controls line (``Dashboard(origins=…, controls=…)``).

    They share one admin client, so a refresh reads ``/admin/status`` once for both; without an
    admin token (``ADMIN_TOKEN``, or the local stack's token file) both say so and read nothing.
    """
    from ..controls.status import controls_line, dashboard_client

    client = dashboard_client(settings, target, url, transport=transport)
    if client is None:
        return OriginPanel(None), lambda: controls_line(None)
    return OriginPanel(lambda: gate_status_of(client.status())), lambda: controls_line(client)
