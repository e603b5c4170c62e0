"""The event's timeline of interventions, from the ``control_events`` table (issue 14).

Each row is one change made through the Worker's admin API: maintenance, the shared limit, the
model list, the token cap or budget, a user's tier, a key reissued or revoked. The report shows
them in time order, beside the traffic they shaped. Pure: rows in, a frame or HTML out.
"""
from __future__ import annotations

import json

import pandas as pd

from . import tables
from .aggregate import utc
from .ranges import EARLIEST, LATEST

#: How each action reads in the report.
ACTIONS = {"maintenance": "maintenance", "limit_per_minute": "limit for everyone", "models": "model allow-list",
           "max_tokens": "max_tokens cap", "budget": "token budget", "tier": "user limit", "reissue": "key reissued",
           "revoke": "key revoked"}


def _describe(action: str, detail: object) -> str:
    """The new value in words (``detail`` is the Worker's JSON text of it; never a secret)."""
    try:
        value = json.loads(detail) if isinstance(detail, str) and detail else detail
    except ValueError:
        return str(detail)
    if value is None:
        return "off"
    if action == "maintenance" and isinstance(value, dict):
        return ("on" + (f": {value.get('message')}" if value.get("message") else "")) if value.get("on") else "off"
    if action == "budget" and isinstance(value, dict):
        return f"{value.get('tokens'):,} tokens per user per {value.get('per')}"
    if action == "models" and isinstance(value, list):
        return ", ".join(map(str, value))
    if action == "tier" and isinstance(value, dict):
        limit = value.get("limit")
        return "back to the shared limit" if limit is None else "blocked" if limit == 0 else f"{limit} requests/min"
    if action == "reissue" and isinstance(value, dict):
        return f"new key (generation {value.get('generation')})"
    if action == "revoke":
        return "every key refused"
    if action == "limit_per_minute":
        return f"{value} requests/min"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def interventions(events: pd.DataFrame, since: str = EARLIEST, until: str = LATEST) -> pd.DataFrame:
    """The events in ``[since, until)`` as ``time, action, target, change`` rows, oldest first."""
    columns = ["time", "action", "target", "change"]
    if events is None or events.empty:
        return pd.DataFrame(columns=columns)
    stamps = pd.to_datetime(events["created_at"], utc=True, format="mixed", errors="coerce")
    keep = pd.Series(True, index=events.index)
    if since != EARLIEST:
        keep &= stamps >= utc(since)
    if until != LATEST:
        keep &= stamps < utc(until)
    chosen = events[keep]
    return pd.DataFrame({
        "time": stamps[keep].dt.strftime("%Y-%m-%d %H:%M:%S").to_list(),
        "action": [ACTIONS.get(a, a) for a in chosen["action"]],
        "target": [t if isinstance(t, str) and t else "everyone" for t in chosen["target"]],
        "change": [_describe(a, d) for a, d in zip(chosen["action"], chosen["detail"], strict=True)],
    }, columns=columns)


def timeline_html(events: pd.DataFrame | None, since: str = EARLIEST, until: str = LATEST) -> str:
    """The report's section; empty text when the log has no ``control_events`` table at all."""
    if events is None:
        return ""
    rows = interventions(events, since, until)
    return ("<h2>Interventions</h2>\n<p class=\"muted\">Changes made during the event through the admin API "
            "(gateway-ops control, attendees tier/reissue/revoke), in UTC.</p>\n"
            + tables.html_table(rows, {"time": "time (UTC)", "action": "action", "target": "who",
                                       "change": "new value"}, user_column=None,
                                empty="No interventions in this range."))
