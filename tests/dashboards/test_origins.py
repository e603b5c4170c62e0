"""The origin panel (pure parts and its binding) and the report's breakdown by origin."""
from __future__ import annotations

import time

import httpx
import pandas as pd
import pytest

from gateway_ops import queries
from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.controls import status as control_status
from gateway_ops.dashboards.live import LiveFeed
from gateway_ops.dashboards.origins import (OriginPanel, admin_views, gate_status_of, gate_summary, origin_frame,
                                           origin_panel_html)
from gateway_ops.dashboards.ranges import EARLIEST, LATEST
from gateway_ops.dashboards.report import NO_ORIGIN, build_report_html, write_report
from gateway_ops.dashboards.widgets import Dashboard, dashboard_checks
from gateway_ops.exceptions import GatewayOpsError
from gateway_ops.settings import Settings

from .helpers import NOW, LogFile, frame, row

STATUS = {"generated_at": "2026-11-30T09:00:00.000Z",
          "gate": {"enabled": True, "scope": "deployment", "waiting": 3, "queue_capacity": 80, "queue_timeout_ms": 10000},
          "origins": [{"origin": "0", "host": "mac-mini:18789", "max_concurrency": 4, "in_flight": 4, "waiting": 3,
                       "healthy": True, "state": "up", "served_last_minute": 480},
                      {"origin": "1", "host": "spare:18789", "max_concurrency": 2, "in_flight": 0, "waiting": 3,
                       "healthy": False, "state": "down", "served_last_minute": 0}]}


def test_origin_frame_has_one_row_per_origin_in_the_panel_columns():
    table = origin_frame(STATUS)
    assert table.to_dict("records")[0] == {"origin": "0", "host": "mac-mini:18789", "in_flight": 4,
                                           "max_concurrency": 4, "waiting": 3, "healthy": "yes", "state": "up",
                                           "served_per_minute": 480}
    assert table["healthy"].tolist() == ["yes", "no"]
    assert origin_frame({"origins": []}).empty


def test_a_status_without_the_origin_list_is_one_sentence():
    assert gate_status_of(STATUS) is STATUS
    malformed: list[object] = [{"gate": {}}, {"origins": "0"}, ["origins"], None]
    for answer in malformed:
        with pytest.raises(GatewayOpsError, match="no 'origins' list"):
            gate_status_of(answer)


def test_gate_summary_says_on_or_off():
    assert gate_summary(STATUS) == "Gate on: 3 waiting of 80 places, queue timeout 10 s."
    assert gate_summary({"gate": {"enabled": False, "scope": "isolate"}, "origins": []}).startswith("Gate off")


def test_without_a_token_the_panel_says_so_and_reads_nothing():
    panel = OriginPanel(None)
    document = panel.refresh()
    assert "No admin token" in document and "<table" not in document and panel.status is None


def test_a_failing_read_keeps_the_last_status_and_says_why():
    answers = [STATUS]

    def read():
        if answers:
            return answers.pop()
        raise GatewayOpsError("The gateway refused the admin token (401).")

    panel = OriginPanel(read)
    assert ">spare:18789<" in panel.refresh() and panel.error is None
    document = panel.refresh()
    assert "refused the admin token" in document and ">spare:18789<" in document and panel.status == STATUS


def test_origin_panel_html_escapes_what_the_gateway_sends():
    evil = {"origins": [{"origin": "0", "host": "<script>x</script>"}], "gate": {}}
    assert "<script>x" not in origin_panel_html(evil)


def test_the_dashboard_shows_the_panel_and_checks_it(tmp_path):
    log_file = LogFile(tmp_path)
    log_file.add([row("alice", 30, now=pd.Timestamp.now(tz="UTC"))])
    feed = LiveFeed(LocalAccessLog(log_file.state_dir))
    name = "origin panel shows the gate status"
    board = Dashboard(feed, origins=OriginPanel(lambda: STATUS))
    assert ">mac-mini:18789<" in board.origin_panel.value
    assert {c.name: c for c in dashboard_checks(board)}[name].passed

    stale = Dashboard(feed, origins=OriginPanel(lambda: STATUS))
    stale.origin_panel.value = ""
    stale.refresh = feed.refresh  # type: ignore[method-assign]  # a binding that no longer redraws the panel: the check must catch it
    assert not {c.name: c for c in dashboard_checks(stale)}[name].passed

    def refused():
        raise GatewayOpsError("The gateway refused the admin token (401).")

    assert not {c.name: c for c in dashboard_checks(Dashboard(feed, origins=OriginPanel(refused)))}[name].passed
    no_token = Dashboard(feed, origins=OriginPanel(None))
    assert {c.name: c for c in dashboard_checks(no_token)}[name].passed  # it says so: not a failure
    assert "No admin token" in no_token.origin_panel.value


class CountingTransport(httpx.HTTPTransport):
    """The real transport, recording each path it sends."""

    def __init__(self):
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


def status_reads_of_a_dashboard(stack) -> tuple[Dashboard, CountingTransport]:
    """A dashboard on the session stack (its admin token from the state folder), built and refreshed once."""
    transport = CountingTransport()
    settings = Settings(_env_file=None, GATEWAY_URL=stack.url, GATEWAY_STATE_DIR=stack.state_dir)
    origins, controls = admin_views(settings, "local", transport=transport)
    board = Dashboard(LiveFeed(LocalAccessLog(stack.state_dir)), origins=origins, controls=controls)
    time.sleep(control_status.DASHBOARD_SHARED_READ_S)  # the next refresh is its own (the slider's minimum is 1 s)
    board.refresh()
    return board, transport


def test_a_refresh_reads_the_status_once_for_the_origin_panel_and_the_controls_line(stack, monkeypatch):
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    board, transport = status_reads_of_a_dashboard(stack)
    assert transport.paths == ["/admin/status"] * 2  # built, then refreshed: one read each
    assert "Gate off" in board.origin_panel.value and ">127.0.0.1:" in board.origin_panel.value
    assert board.controls_text.startswith("controls: ") and "unknown" not in board.controls_text

    # the same count catches readers that do not share: two reads per refresh
    monkeypatch.setattr(control_status, "DASHBOARD_SHARED_READ_S", 0.0)
    assert status_reads_of_a_dashboard(stack)[1].paths == ["/admin/status"] * 4


def breakdown_log(tmp_path) -> LocalAccessLog:
    log_file = LogFile(tmp_path)
    rows = ([row("a", 50, latency=100 + i) for i in range(10)] + [row("b", 40, latency=900)]
            + [row("c", 30, status=503) for _ in range(3)] + [row("d", 20, status=502)])
    log_file.add(rows)
    # origins and gate waits as the Worker writes them (migration 0003)
    log_file.execute("UPDATE requests SET origin = '0', gate_wait_ms = id * 10 WHERE id <= 10")
    log_file.execute("UPDATE requests SET origin = '1', gate_wait_ms = 0 WHERE id IN (11, 15)")
    log_file.execute("UPDATE requests SET error_class = 'origin_busy', gate_wait_ms = 10000 WHERE status = 503")
    return LocalAccessLog(log_file.state_dir)


def test_origin_breakdown_counts_latency_and_refusals_per_origin(tmp_path):
    table = queries.origin_breakdown(breakdown_log(tmp_path), EARLIEST, LATEST, 10**9)
    by = {r["origin"]: r for r in table.to_dict("records")}
    assert list(by) == ["0", "1", None]  # origins in order, then the requests that reached none
    zero, one, none = by["0"], by["1"], by[None]
    assert (zero["requests"], zero["ok"], zero["origin_busy"], zero["other_5xx"]) == (10, 10, 0, 0)
    assert (zero["p50_ms"], zero["p95_ms"]) == (104, 109)  # nearest rank of 100…109
    assert (zero["gate_wait_avg_ms"], zero["gate_wait_max_ms"]) == (55, 100)
    assert (one["requests"], one["ok"], one["other_5xx"], one["p50_ms"]) == (2, 1, 1, 900)
    assert (none["requests"], none["origin_busy"], none["other_5xx"]) == (3, 3, 0)
    assert none["gate_wait_max_ms"] == 10000 and pd.isna(none["p50_ms"])


def test_the_report_breaks_latency_and_refusals_down_by_origin(tmp_path):
    log = breakdown_log(tmp_path / "log")
    report = write_report(log, tmp_path / "report.html")
    document = report.path.read_text()
    assert "<h2>By origin</h2>" in document and "origin 0" in document and NO_ORIGIN in document
    assert "503 origin_busy" in document


def test_a_log_without_the_origin_columns_says_so():
    document = build_report_html(frame([row("a", 10, now=NOW)]), by_origin="No breakdown by origin: no column.")
    assert "No breakdown by origin: no column." in document
