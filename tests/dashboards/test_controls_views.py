"""Issue 14 on the second screen: the controls line at the top of the live dashboard, and the
timeline of interventions in the event report (the ``control_events`` table, migration 0005)."""
from __future__ import annotations

import pandas as pd

from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.dashboards.live import LiveFeed
from gateway_ops.dashboards.report import build_report_html, write_report
from gateway_ops.dashboards.timeline import interventions
from gateway_ops.dashboards.widgets import NO_CONTROLS, Dashboard

from .helpers import LogFile, row

EVENTS = pd.DataFrame([
    {"id": 1, "created_at": "2026-11-30 09:00:00.000", "action": "maintenance",
     "target": None, "detail": '{"on": true, "message": "back at 10:15"}'},
    {"id": 2, "created_at": "2026-11-30 09:05:00.000", "action": "tier", "target": "mallory", "detail": '{"limit": 0}'},
    {"id": 3, "created_at": "2026-11-30 09:10:00.000", "action": "budget", "target": None,
     "detail": '{"tokens": 20000, "per": "event"}'},
    {"id": 4, "created_at": "2026-11-30 11:00:00.000", "action": "max_tokens", "target": None, "detail": "null"},
])


def test_the_dashboard_shows_the_controls_line_first_and_refreshes_it(tmp_path):
    LogFile(tmp_path).add([row("alice", 30)])
    lines = iter(["controls: none active (usual limit, any model, no cap, no budget)",
                  "controls: MAINTENANCE (back at 10:15) · limit 20/min"])
    board = Dashboard(LiveFeed(LocalAccessLog(tmp_path)), controls=lambda: next(lines))
    assert board.view.children[0] is board.controls
    assert "none active" in board.controls.value
    board.refresh()
    assert "MAINTENANCE (back at 10:15) · limit 20/min" in board.controls.value
    assert "background:#e65100" in board.controls.value  # maintenance stands out
    assert board.summary()["controls"].startswith("controls: MAINTENANCE")


def test_without_a_reader_the_line_says_unknown_rather_than_guess(tmp_path):
    LogFile(tmp_path).add([row("alice", 30)])
    board = Dashboard(LiveFeed(LocalAccessLog(tmp_path)))
    assert NO_CONTROLS == "controls: unknown (no admin token)" and NO_CONTROLS in board.controls.value


def test_interventions_read_as_words_in_time_order_within_the_range():
    rows = interventions(EVENTS, "2026-11-30T08:00:00.000Z", "2026-11-30T10:00:00.000Z")
    assert rows.to_dict("records") == [
        {"time": "2026-11-30 09:00:00", "action": "maintenance", "target": "everyone", "change": "on: back at 10:15"},
        {"time": "2026-11-30 09:05:00", "action": "user limit", "target": "mallory", "change": "blocked"},
        {"time": "2026-11-30 09:10:00", "action": "token budget", "target": "everyone",
         "change": "20,000 tokens per user per event"}]


def test_the_report_has_the_timeline_only_when_the_table_exists():
    without = build_report_html(pd.DataFrame(), control_events=None)
    assert "Interventions" not in without
    empty = build_report_html(pd.DataFrame(), control_events=EVENTS.iloc[0:0])
    assert "Interventions" in empty and "No interventions in this range." in empty
    full = build_report_html(pd.DataFrame(), control_events=EVENTS)
    assert "on: back at 10:15" in full and "mallory" in full


def test_write_report_reads_control_events_when_the_log_has_them(tmp_path):
    log_file = LogFile(tmp_path / "state")  # every migration, 0005's control_events included
    log_file.add([row("alice", 30)])
    plain = write_report(LocalAccessLog(log_file.state_dir), tmp_path / "a.html").path.read_text()
    assert "Interventions" in plain and "No interventions in this range." in plain
    log_file.execute("INSERT INTO control_events (created_at, action, target, detail, source) VALUES "
                     "(strftime('%Y-%m-%d %H:%M:%f', 'now'), 'limit_per_minute', NULL, '20', 'admin')")
    text = write_report(LocalAccessLog(log_file.state_dir), tmp_path / "b.html").path.read_text()
    assert "limit for everyone" in text and "20 requests/min" in text
    log_file.execute("DROP TABLE control_events")
    assert "Interventions" not in write_report(LocalAccessLog(log_file.state_dir), tmp_path / "c.html").path.read_text()
