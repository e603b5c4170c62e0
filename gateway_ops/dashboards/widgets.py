"""The live dashboard's widgets: a thin binding of ``LiveFeed`` + aggregates + figures to ipywidgets.

Figures are plotly ``FigureWidget``s built from the first data (Voilà shows a widget's state as it
was when the page connected, so an empty figure filled later could stay empty on the page) and
then updated in place inside ``batch_update()``: no flicker, no re-rendered cells. After each
update the widget's synced state is re-set from the figure, so a view that connects late still
draws the current data.

A timer thread refreshes every ``refresh_seconds`` (slider) unless paused (toggle); it starts only
where someone watches — under Voilà or a Jupyter server's kernel — or for ``run_for_seconds`` when
asked, so papermill and nbval runs finish. Everything here also works without a kernel:
``Button.click()`` and ``.value = …`` fire the same handlers, which is how the tests drive it.

The line at the top names the event controls in force (maintenance, limit, models, caps, budget),
read through the admin API at each refresh by the ``controls`` callable; without one the line says
the controls are unknown rather than guess. ``gateway_ops.dashboards.origins.admin_views`` makes it
and the origin panel's reader, sharing one ``/admin/status`` read per refresh.
"""
from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Callable

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from ..exceptions import GatewayOpsError
from ..log import logger
from ..results import Check
from . import aggregate, figures, tables
from .live import LiveFeed, RefreshStats
from .origins import OriginPanel, origins_frame_hosts

WINDOWS = {"last 5 min": 5, "last 15 min": 15, "last 60 min": 60}
SORT_COLUMNS = {"requests": "requests", "429s": "rate_limited", "5xx": "errors", "p50 ms": "p50_ms",
                "p95 ms": "p95_ms", "tokens": "tokens", "last seen": "last_seen", "user": "user_id",
                "all requests": "total_requests"}
#: The controls line when the dashboard was given no way to read them.
NO_CONTROLS = "controls: unknown (no admin token)"
CONTROLS_STYLE = "font:14px system-ui,sans-serif;padding:4px 0"
MAINTENANCE_STYLE = ("background:#e65100;color:#fff;padding:6px 12px;border-radius:4px;"
                     "font:bold 14px system-ui,sans-serif")
BANNER_STYLE = ("background:#c62828;color:#fff;padding:8px 12px;border-radius:4px;"
                "font:14px system-ui,sans-serif")
#: Environment variables a kernel started by Voilà or a Jupyter server has (papermill's has neither).
LIVE_KERNEL_VARIABLES = ("VOILA_KERNEL_ID", "VOILA_BASE_URL", "VOILA_SERVER_URL", "JPY_SESSION_NAME")


def live_kernel() -> bool:
    """True under Voilà or JupyterLab, where a page stays open to show the updates."""
    return any(os.environ.get(name) for name in LIVE_KERNEL_VARIABLES)


def sync_figure(widget: go.FigureWidget, traces: list[dict], titles: list[str]) -> None:
    """Copies new trace data (x/y, in trace order) and panel titles into ``widget`` in one update message."""
    with widget.batch_update():
        for target, data in zip(widget.data, traces, strict=True):
            target.x, target.y = data["x"], data["y"]
        for annotation, text in zip(widget.layout.annotations, titles, strict=False):
            if annotation.text != text:
                annotation.text = text
    resync(widget)


def resync(widget: go.FigureWidget) -> None:
    """Sets the widget's synced state to what it holds now (a view created later starts from it)."""
    widget._widget_data = copy.deepcopy(widget._data)
    widget._widget_layout = copy.deepcopy(widget._layout)


class Dashboard:
    """The facilitator's live screen. Display it (``dashboard`` as a cell's last line); ``start()`` refreshes.

    :param feed: the incremental reader (its first load runs here if it has not yet)
    :param refresh_seconds: the timer's initial interval (the slider changes it)
    :param window_minutes: the per-user table's initial window (5, 15 or 60)
    :param limit_per_minute: the Worker's per-user limit, for the near/over-limit highlight
    :param origins: the origin panel's reader (gate status); None: no origin panel
    :param controls: returns the line of active controls (never raises); None: "unknown (no admin token)"
    """

    def __init__(self, feed: LiveFeed, *, refresh_seconds: int = 5, window_minutes: int = 15,
                 limit_per_minute: int = 50, near_fraction: float = 0.8, top_n: int = 10, panel_minutes: int = 60,
                 origins: OriginPanel | None = None, controls: Callable[[], str] | None = None):
        self.feed = feed
        self.origins = origins
        self.read_controls = controls or (lambda: NO_CONTROLS)
        self.controls = widgets.HTML()
        self.limit_per_minute = int(limit_per_minute)
        self.near_fraction = near_fraction
        self.top_n = top_n
        self.panel_minutes = panel_minutes
        self.refreshes = 0
        self.ran_for = 0.0
        self.rows_read_total = 0
        self.render_error: str | None = None
        self.selected_user: str | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if not feed.loaded:
            self._count(feed.refresh())

        window = min(WINDOWS.values(), key=lambda w: abs(w - int(window_minutes)))
        self._show_controls()
        self.status = widgets.HTML()
        self.banner = widgets.HTML(layout=widgets.Layout(display="none"))
        self.interval = widgets.IntSlider(value=max(1, int(refresh_seconds)), min=1, max=60, description="refresh (s)",
                                          continuous_update=False)
        self.pause = widgets.ToggleButton(value=False, description="Pause",
                                          tooltip="Stop refreshing (the page keeps the last data)")
        self.refresh_now = widgets.Button(description="Refresh now")
        self.window = widgets.Dropdown(options=list(WINDOWS.items()), value=window, description="window")
        self.sort_by = widgets.Dropdown(options=list(SORT_COLUMNS.items()), value="requests", description="sort by")
        self.descending = widgets.ToggleButton(value=True, description="descending")
        self.user_table = widgets.HTML()
        self.search = widgets.Combobox(placeholder="user id (or part of it)", description="user",
                                       ensure_option=False)
        self.show_user = widgets.Button(description="Show")
        self.drilldown = widgets.HTML()
        self.origin_panel = widgets.HTML(self.origins.refresh() if self.origins is not None else "")

        frames = self.frames()
        self.figure = go.FigureWidget(figures.build_dashboard_figure(frames, self.titles(frames)))
        self._render_widgets(frames)

        self.interval.observe(lambda _: self._wake.set(), names="value")
        self.pause.observe(self._on_pause, names="value")
        self.refresh_now.on_click(lambda _: self.refresh())
        self.window.observe(lambda _: self.render(), names="value")
        self.sort_by.observe(lambda _: self._render_table(), names="value")
        self.descending.observe(lambda _: self._render_table(), names="value")
        self.show_user.on_click(lambda _: self.select_user(self.search.value))
        self.search.observe(lambda change: self.select_user(change["new"]) if change["new"] in self.search.options
                            else None, names="value")
        self.view = self._layout()

    # -- data --------------------------------------------------------------------------------------
    def frames(self) -> dict[str, pd.DataFrame]:
        """Every panel's frame, computed from the feed's rows at the feed's current time."""
        return aggregate.panel_frames(self.feed.rows, self.feed.totals, self.feed.now,
                                      window_minutes=self.window.value, limit_per_minute=self.limit_per_minute,
                                      near_fraction=self.near_fraction, top_n=self.top_n,
                                      panel_minutes=self.panel_minutes)

    def titles(self, frames: dict[str, pd.DataFrame]) -> dict[str, str]:
        hour = self.panel_minutes
        return {
            "requests": f"Requests per minute by status, last {hour} min (UTC): "
                        f"{int(frames['requests'].to_numpy().sum()):,} requests",
            "latency": f"Latency and time to first byte, last {hour} min (ms)",
            "origin_errors": f"Origin errors (502/504), last {hour} min: "
                             f"{int(frames['origin_errors'].to_numpy().sum()):,}",
            "top_users": f"Top {self.top_n} users, last {self.window.value} min",
        }

    # -- refresh -----------------------------------------------------------------------------------
    def refresh(self) -> RefreshStats:
        """Reads what is new and redraws; a failing source shows the banner and keeps the last data."""
        with self._lock:
            stats = self.feed.refresh()
            self._count(stats)
            self._show_controls()
            if self.origins is not None:
                self.origin_panel.value = self.origins.refresh()
            self.render()
            return stats

    def _show_controls(self) -> None:
        """Reads the controls line (one admin call) and shows it, highlighted during maintenance."""
        line = self.read_controls()
        style = MAINTENANCE_STYLE if line.startswith("controls: MAINTENANCE") else CONTROLS_STYLE
        self.controls.value = f"<div class='gw-controls' style='{style}'>{_escape(line)}</div>"
        self.controls_text = line

    def _count(self, stats: RefreshStats) -> None:
        self.rows_read_total += stats.rows_read

    def render(self) -> None:
        """Redraws every panel from the feed (no query)."""
        with self._lock:
            try:
                frames = self.frames()
                titles = self.titles(frames)
                sync_figure(self.figure, figures.dashboard_trace_data(frames),
                            [titles[name] for name, _, _ in figures.PANELS])
                self.render_error = None
            except Exception as error:  # a bug must not kill the timer: show it on the banner instead
                logger.exception("dashboard render failed")
                self.render_error = f"The dashboard could not redraw: {type(error).__name__}: {error}"
                frames = None
            self._render_widgets(frames)

    def _render_widgets(self, frames: dict[str, pd.DataFrame] | None) -> None:
        self._render_status()
        if frames is not None:
            self._table = frames["users"]
            self._render_table()
            self._render_drilldown()
            users = sorted(set(self.feed.totals["user_id"]) | set(frames["users"]["user_id"]))
            if len(users) <= 2000 and users != list(self.search.options):
                self.search.options = users

    def _render_status(self) -> None:
        good = self.feed.last_good
        paused = " · <b>paused</b>" if self.pause.value else ""
        if good is None:
            self.status.value = f"<span style='font:13px system-ui'>no data read yet{paused}</span>"
        else:
            self.status.value = (
                f"<span style='font:13px system-ui'>updated {good.at:%H:%M:%S} UTC · query took "
                f"{good.query_ms:.0f} ms · rows read {good.rows_read:,} ({good.mode}) · "
                f"{self.rows_read_total:,} rows read since the page opened · {len(self.feed.rows):,} rows in view, "
                f"last id {self.feed.last_id}{paused}</span>")
        problem = self.feed.error or self.render_error
        if problem:
            since = f" Showing the data of {good.at:%H:%M:%S} UTC." if good else ""
            failed_at = self.feed.last.at if self.feed.last else self.feed.clock()  # UTC, as the label says
            self.banner.value = (f"<div style='{BANNER_STYLE}'>⚠ Data source problem at {failed_at:%H:%M:%S} UTC: "
                                 f"{_escape(problem)}{since} Retrying every {self.interval.value} s.</div>")
            self.banner.layout.display = None
        else:
            self.banner.value = ""
            self.banner.layout.display = "none"

    def _render_table(self) -> None:
        table = aggregate.sort_users(self._table, self.sort_by.value, self.descending.value) \
            if not self._table.empty else self._table
        self.user_table.value = tables.user_table_html(table, self.limit_per_minute, self.near_fraction)

    # -- drill-down --------------------------------------------------------------------------------
    def select_user(self, text: str) -> list[str]:
        """Shows one user's recent requests; several or no matches are said so. Returns the matches."""
        with self._lock:
            return self._select_user(text)

    def _select_user(self, text: str) -> list[str]:
        known = set(self.feed.totals["user_id"]) | set(self.feed.rows["user_id"])
        matches = aggregate.find_users(known, text)
        self.selected_user = matches[0] if len(matches) == 1 else None
        if self.selected_user is None:
            if not (text or "").strip():
                message = "Type a user id and press Show."
            elif not matches:
                message = f"No user matches {text!r}."
            else:
                shown = ", ".join(matches[:10]) + (" …" if len(matches) > 10 else "")
                message = f"{len(matches)} users match {text!r}: {shown}. Type more of the id."
            self.drilldown.value = f"<p class='gw-legend'>{_escape(message)}</p>{tables.STYLE}"
        else:
            self._render_drilldown(force=True)
        return matches

    def _render_drilldown(self, force: bool = False) -> None:
        """The selected user's latest requests, read again only when they have new rows."""
        user = self.selected_user
        if user is None or not (force or user in self.feed.new_users):
            return
        try:
            recent = aggregate.user_requests(self.feed.user_recent(user, 20), user, 20)
        except GatewayOpsError as error:
            self.drilldown.value = f"<p class='gw-legend'>Cannot read {_escape(user)}'s requests: {_escape(error)}</p>"
            return
        totals = self.feed.totals[self.feed.totals["user_id"] == user]
        mine = self.feed.rows[self.feed.rows["user_id"] == user]
        summary = ""
        if not totals.empty:
            row = totals.iloc[0]
            summary = (f"<p class='gw-legend'><b>{_escape(user)}</b>: {int(row['requests']):,} requests since "
                       f"{row['first_seen']:%H:%M:%S} UTC; in the last {self.feed.history_minutes} min "
                       f"{len(mine):,} requests, {int((mine['status'] == 429).sum()):,} rate-limited, "
                       f"{int((mine['status'] >= 500).sum()):,} 5xx, {int(mine['tokens_est'].fillna(0).sum()):,} "
                       f"tokens</p>")
        self.drilldown.value = summary + tables.recent_requests_html(recent, user)

    # -- timer -------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Refreshes every ``interval`` seconds in a background thread until ``stop()``."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="dashboard-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval.value)
            self._wake.clear()
            if self._stop.is_set():
                break
            if self.pause.value:
                continue
            try:
                self.refresh()
                self.refreshes += 1
            except Exception as error:  # never let the timer die silently
                logger.exception("dashboard refresh failed")
                self.render_error = f"The dashboard could not refresh: {type(error).__name__}: {error}"
                self._render_status()

    def _on_pause(self, change) -> None:
        self.pause.description = "Resume" if change["new"] else "Pause"
        self._render_status()
        self._wake.set()

    def run(self, live: bool | str = "auto", run_for_seconds: float = 0) -> str:
        """Starts the timer where a page watches (``live``: True, False or "auto"), or runs it for a while.

        ``run_for_seconds > 0`` refreshes for that long, then stops (papermill, tests); with 0, "auto"
        starts the timer only under Voilà or JupyterLab, so a headless run builds once and returns.
        """
        if run_for_seconds > 0:
            self.start()
            deadline = time.monotonic() + run_for_seconds
            while time.monotonic() < deadline and self.running:
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            self.stop()
            self.ran_for = run_for_seconds
            return f"refreshed {self.refreshes} time(s) in {run_for_seconds:g} s"
        if live is True or (live == "auto" and live_kernel()):
            self.start()
            return f"live: refreshing every {self.interval.value} s"
        return "built once (no live page watching)"

    def summary(self) -> dict:
        """What a notebook records beside its checks: reads per refresh and who was active."""
        with self._lock:
            users = self._table
            return {
                "reads": [{"at": s.at.isoformat(), "mode": s.mode, "rows_read": s.rows_read, "new_rows": s.new_rows,
                           "query_ms": round(s.query_ms, 1), "error": s.error} for s in self.feed.history[-50:]],
                "timer_refreshes": self.refreshes,
                "last_id": self.feed.last_id,
                "window_minutes": self.window.value,
                "controls": self.controls_text,
                "users": {row.user_id: {"requests": int(row.requests), "rate_limited": int(row.rate_limited),
                                        "limit_state": row.limit_state} for row in users.itertuples()},
            }

    # -- display -----------------------------------------------------------------------------------
    def _layout(self) -> widgets.VBox:
        def box(widget):
            return widgets.VBox([widget], layout=widgets.Layout(width="100%", min_width="0"))

        toolbar = widgets.HBox([self.interval, self.pause, self.refresh_now, self.window])
        table_box = widgets.Box([self.user_table], layout=widgets.Layout(max_height="420px", overflow="auto",
                                                                          width="100%"))
        origins = [widgets.HTML("<b style='font:14px system-ui'>Origins (gate status)</b>"), self.origin_panel] \
            if self.origins is not None else []
        return widgets.VBox([
            self.controls, self.banner, self.status, toolbar, *origins, box(self.figure),
            widgets.HTML("<b style='font:14px system-ui'>Users in the window</b>"),
            widgets.HBox([self.sort_by, self.descending]), table_box,
            widgets.HTML("<b style='font:14px system-ui'>User drill-down</b>"),
            widgets.HBox([self.search, self.show_user]), self.drilldown,
        ])

    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)


def _escape(text: object) -> str:
    import html

    return html.escape(str(text))


def dashboard_checks(dashboard: Dashboard) -> list[Check]:
    """What a notebook run proves: the log was read, the panels show it, refreshes read only new rows."""
    feed = dashboard.feed
    first = next((s for s in feed.history if s.mode == "first load"), None)
    checks = [Check("access log readable", "first load without error",
                    "never loaded" if first is None else (first.error or
                                                          f"{first.new_rows:,} rows of the last "
                                                          f"{feed.history_minutes} min in {first.query_ms:.0f} ms"),
                    first is not None and first.ok)]
    with dashboard._lock:
        frames = dashboard.frames()
        expected = int(frames["requests"].to_numpy().sum())
        shown = int(sum(sum(v or 0 for v in trace.y) for trace in dashboard.figure.data if trace.meta == "requests"))
        users = set(frames["users"]["user_id"])
        table_html = dashboard.user_table.value
    listed = sum(tables.user_marker(user) in table_html for user in users)
    checks.append(Check("requests panel shows the rows read", f"{expected:,} requests in the last "
                        f"{dashboard.panel_minutes} min", f"{shown:,} in the figure", shown == expected))
    checks.append(Check("per-user table lists every active user", f"{len(users)} users", f"{listed} rows",
                        listed == len(users)))
    before = feed.last_id
    stats = dashboard.refresh()
    fresh = feed.rows[feed.rows["id"] > before]
    checks.append(Check("refresh reads only new rows", f"rows with id > {before}",
                        stats.error or f"{stats.rows_read} rows read ({stats.mode}), {len(fresh)} new in view",
                        stats.ok and stats.mode == "incremental" and stats.rows_read == stats.new_rows
                        and stats.rows_read >= len(fresh)))
    if dashboard.origins is not None:
        panel = dashboard.origins
        shown = panel.status is not None and all(f'>{origin}<' in dashboard.origin_panel.value
                                                 for origin in origins_frame_hosts(panel.status))
        checks.append(Check("origin panel shows the gate status", "every origin of /admin/status, or a no-token notice",
                            "no token (the panel says so)" if panel.read is None else (panel.error or
                            f"{len((panel.status or {}).get('origins', []))} origin(s)"),
                            panel.read is None or (panel.error is None and shown)))
    if dashboard.ran_for > 0:
        checks.append(Check("timer refreshes", f"at least one refresh in {dashboard.ran_for:g} s",
                            f"{dashboard.refreshes} refreshes", dashboard.refreshes >= 1))
    return checks
