"""Live per-user dashboard, event report and archive of the access log.

``aggregate`` (pure: rows in, frames out) → ``figures`` (plotly figures) → ``widgets`` (the live
page) and ``report`` (a self-contained HTML file); ``live`` reads the log incrementally and
``archive`` exports (and optionally deletes) a time range. plotly and ipywidgets are imported only
by the modules that draw.
"""
from __future__ import annotations

from .live import LiveFeed, RefreshStats

__all__ = ["Dashboard", "LiveFeed", "RefreshStats", "dashboard_checks"]


def __getattr__(name: str):
    if name in ("Dashboard", "dashboard_checks"):
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(name)
