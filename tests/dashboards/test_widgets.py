"""The widget binding, driven in plain pytest (no kernel): buttons click, values change, the timer ticks."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.dashboards import figures, widgets
from gateway_ops.dashboards.live import LiveFeed
from gateway_ops.dashboards.widgets import Dashboard, dashboard_checks, live_kernel

from helpers import wait_until

from .helpers import LogFile, row
from .test_live import RecordingLog

@pytest.fixture
def log_file(tmp_path):
    """Rows of known ages, measured from when the test starts (not from import: a full run reaches
    this module minutes after collecting it, and the ages must hold against the dashboard's clock)."""
    now = pd.Timestamp.now(tz="UTC")
    log_file = LogFile(tmp_path)
    log_file.add([row("alice", 30, now=now), row("alice", 20, status=429, now=now), row("bob", 10 * 60, now=now),
                  row("carol", 40 * 60, status=502, now=now)])
    return log_file


@pytest.fixture
def log(log_file):
    return RecordingLog(LocalAccessLog(log_file.state_dir))


@pytest.fixture
def dashboard(log):
    board = Dashboard(LiveFeed(log), refresh_seconds=1, window_minutes=15, limit_per_minute=50)
    yield board
    board.stop()


def panel_total(board: Dashboard, panel: str, axis: str = "y") -> int:
    return int(sum(sum(v or 0 for v in getattr(trace, axis)) for trace in board.figure.data if trace.meta == panel))


def updates_of(widget) -> list[dict]:
    sent: list[dict] = []
    widget.observe(lambda change: sent.append(change["new"]) if change["new"] else None, names="_py2js_update")
    return sent


def test_the_page_is_built_from_the_first_data(dashboard):
    assert panel_total(dashboard, "requests") == 4
    assert panel_total(dashboard, "origin_errors") == 1
    assert panel_total(dashboard, "top_users", "x") == 3  # alice and bob are in the 15-minute window
    assert 'data-user="alice"' in dashboard.user_table.value and 'data-user="carol"' not in dashboard.user_table.value
    assert "gw-over" in dashboard.user_table.value  # alice got a 429
    assert "rows read" in dashboard.status.value and "(first load)" in dashboard.status.value
    assert dashboard.banner.layout.display == "none"
    assert [trace.meta for trace in dashboard.figure.data] == [name for name, _, _ in figures.PANELS
                                                               for _ in figures.PANEL_TRACES[name](
                                                                   dashboard.frames()[name])]


def test_refresh_now_reads_new_rows_and_updates_the_figure_in_place(dashboard, log_file):
    uids = [trace.uid for trace in dashboard.figure.data]
    sent = updates_of(dashboard.figure)
    log_file.add([row("dave", 1, now=pd.Timestamp.now(tz="UTC")) for _ in range(3)])
    dashboard.refresh_now.click()
    assert panel_total(dashboard, "requests") == 7
    assert "dave" in dashboard.figure.data[-1].y
    assert len(sent) == 1, "one batched update message, not one per trace"
    assert [trace.uid for trace in dashboard.figure.data] == uids  # the same traces, updated in place
    assert dashboard.figure._widget_data == dashboard.figure._data  # a view connecting later draws the same
    assert "rows read 3 (incremental)" in dashboard.status.value


def test_a_failing_source_shows_the_banner_and_keeps_the_last_data(dashboard, log):
    before = panel_total(dashboard, "requests")
    log.failing = True
    dashboard.refresh_now.click()
    assert dashboard.banner.layout.display is None and "database is locked" in dashboard.banner.value
    assert "Showing the data of" in dashboard.banner.value
    assert panel_total(dashboard, "requests") == before
    log.failing = False
    dashboard.refresh_now.click()
    assert dashboard.banner.layout.display == "none" and dashboard.banner.value == ""


def test_window_and_sort_redraw_without_a_query(dashboard, log):
    calls = len(log.calls)
    dashboard.window.value = 60
    assert 'data-user="carol"' in dashboard.user_table.value
    dashboard.window.value = 5
    assert 'data-user="bob"' not in dashboard.user_table.value
    dashboard.window.value = 60
    dashboard.sort_by.value = "user_id"
    dashboard.descending.value = False
    html = dashboard.user_table.value
    assert html.index('data-user="alice"') < html.index('data-user="bob"') < html.index('data-user="carol"')
    dashboard.descending.value = True
    html = dashboard.user_table.value
    assert html.index('data-user="carol"') < html.index('data-user="alice"')
    assert len(log.calls) == calls


def test_user_search_and_drill_down(dashboard, log_file):
    dashboard.search.value = "ali"
    dashboard.show_user.click()
    assert dashboard.selected_user == "alice" and "rate-limited" in dashboard.drilldown.value
    assert dashboard.drilldown.value.count("<tr") == 3  # header + alice's two requests
    read = dashboard.feed.drilldown_rows_read
    log_file.add([row("zed", 1, now=pd.Timestamp.now(tz="UTC"))])
    dashboard.refresh()
    assert dashboard.feed.drilldown_rows_read == read  # alice had nothing new: not read again
    log_file.add([row("alice", 1, now=pd.Timestamp.now(tz="UTC"))])
    dashboard.refresh()
    assert dashboard.drilldown.value.count("<tr") == 4
    assert dashboard.select_user("o") == ["bob", "carol"] and "2 users match" in dashboard.drilldown.value
    assert dashboard.select_user("nobody") == [] and "No user matches" in dashboard.drilldown.value


def test_the_timer_refreshes_pauses_resumes_and_stops(dashboard):
    dashboard.start()
    assert dashboard.running
    wait_until(lambda: dashboard.refreshes >= 1, timeout=10)
    assert dashboard.refreshes >= 1
    dashboard.pause.value = True
    assert dashboard.pause.description == "Resume" and "paused" in dashboard.status.value
    paused_at = dashboard.refreshes
    time.sleep(1.6)  # what is tested: a paused timer stays still for longer than its period
    assert dashboard.refreshes == paused_at
    dashboard.pause.value = False
    wait_until(lambda: dashboard.refreshes > paused_at, timeout=10)
    assert dashboard.refreshes > paused_at
    thread = dashboard._thread
    dashboard.stop()
    assert not dashboard.running and not thread.is_alive()


def test_the_timer_survives_a_redraw_failure(dashboard, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(widgets.aggregate, "panel_frames", broken)
    dashboard.refresh()
    assert "could not redraw" in dashboard.banner.value and dashboard.banner.layout.display is None
    monkeypatch.undo()
    dashboard.refresh()
    assert dashboard.banner.layout.display == "none"


def test_run_starts_the_timer_only_where_a_page_watches(dashboard, monkeypatch):
    for name in widgets.LIVE_KERNEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not live_kernel()
    assert dashboard.run() == "built once (no live page watching)" and not dashboard.running
    monkeypatch.setenv("VOILA_KERNEL_ID", "k")
    assert live_kernel() and dashboard.run().startswith("live") and dashboard.running
    dashboard.stop()
    assert dashboard.run(live=False) == "built once (no live page watching)" and not dashboard.running


def test_run_for_a_while_refreshes_then_stops(dashboard):
    message = dashboard.run(run_for_seconds=1.5)
    assert dashboard.refreshes >= 1 and not dashboard.running and message.startswith("refreshed")


def test_checks_pass_and_catch_a_broken_binding(dashboard, log_file, monkeypatch):
    checks = dashboard_checks(dashboard)
    assert all(check.passed for check in checks), checks
    monkeypatch.setattr(widgets, "sync_figure", lambda *args: None)  # the figure stops following the data
    log_file.add([row("erin", 1, now=pd.Timestamp.now(tz="UTC"))])
    dashboard.refresh()
    failed = {check.name for check in dashboard_checks(dashboard) if not check.passed}
    assert failed == {"requests panel shows the rows read"}


def test_a_page_opened_while_the_source_is_down_says_so_and_recovers(log):
    log.failing = True
    board = Dashboard(LiveFeed(log))
    assert "no data read yet" in board.status.value and "database is locked" in board.banner.value
    assert panel_total(board, "requests") == 0
    log.failing = False
    board.refresh_now.click()
    assert board.banner.layout.display == "none" and panel_total(board, "requests") == 4


def test_the_banner_time_is_utc_as_its_label_says(log, monkeypatch):
    """The banner says "UTC": its time comes from the feed's UTC clock, not the machine's local time."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # local time 5:30 ahead of UTC
    time.tzset()
    try:
        board = Dashboard(LiveFeed(log, clock=lambda: pd.Timestamp("2026-11-28T09:15:42Z").to_pydatetime()))
        board.feed.history.clear()  # a redraw failure before any refresh finished
        board.render_error = "could not redraw"
        board._render_status()
        assert "Data source problem at 09:15:42 UTC" in board.banner.value
    finally:
        monkeypatch.undo()
        time.tzset()
