"""The event report (self-contained HTML), time ranges, and the figures it shares with the live page."""
from __future__ import annotations

from datetime import datetime, UTC

import pandas as pd
import pytest

from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.dashboards import aggregate, figures
from gateway_ops.dashboards.ranges import EARLIEST, LATEST, TimeRangeError, parse_time, read_range, time_range
from gateway_ops.dashboards.report import (Report, ReportError, build_report_html, event_checks, external_references,
                                           write_report)

from .helpers import NOW, LogFile, frame, row

ROWS = [row("alice", 120, tokens=40), row("alice", 60, status=429), row("bob", 30, status=502), row("bob", 20),
        row("~unknown", 10, status=400)]


def test_the_report_holds_the_numbers_and_opens_offline():
    document = build_report_html(frame(ROWS), title="Workshop <3>", generated_at=NOW.to_pydatetime())
    assert document.startswith("<!DOCTYPE html>") and "Workshop &lt;3&gt;" in document
    assert external_references(document) == []
    assert document.count("Plotly.newPlot") == 4 and "<script type=\"text/javascript\">" in document
    assert 'data-user="alice"' in document and 'data-user="bob"' in document
    for label, value in (("requests", "5"), ("attendees active", "2"), ("rate-limit hits (429)", "1")):
        assert f'<span class="muted">{label}</span><b class="">{value}</b>' in document
    assert "Busiest minutes" in document and "Error budget" in document


def test_a_report_of_nothing_says_so():
    document = build_report_html(pd.DataFrame())
    assert "No requests in this range." in document and external_references(document) == []


def test_external_references_are_found():
    assert external_references('<script src="https://cdn.plot.ly/x.js"></script>')
    assert external_references("<link rel=stylesheet href=//cdn.example/x.css>")
    assert not external_references('<script>var u = "https://example.com"</script><a href="https://x">x</a>')


def test_write_report_reads_the_range_and_checks_pass(tmp_path):
    log_file = LogFile(tmp_path / "state")
    log_file.add(ROWS)
    report = write_report(LocalAccessLog(log_file.state_dir), tmp_path / "out" / "report.html",
                          since=(NOW - pd.Timedelta(seconds=90)).isoformat())
    assert report.rows == 4 and report.summary["rate_limited"] == 1
    assert all(check.passed for check in event_checks(report))


def test_event_checks_fail_for_a_report_that_needs_the_network(tmp_path):
    path = tmp_path / "report.html"
    path.write_text('<script src="https://cdn.plot.ly/plotly.min.js"></script><script>Plotly.newPlot()</script>')
    failed = [check.name for check in event_checks(Report(path, 0, {})) if not check.passed]
    assert failed == ["report opens offline"]
    path.unlink()
    assert not event_checks(Report(path, 0, {}))[0].passed


def test_an_unwritable_report_is_one_sentence(tmp_path):
    log_file = LogFile(tmp_path / "state")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ReportError, match="Cannot write the report to"):
        write_report(LocalAccessLog(log_file.state_dir), blocker / "report.html")


@pytest.mark.parametrize("text, expected", [
    ("", EARLIEST), ("2026-11-28T09:00:00Z", "2026-11-28 09:00:00.000"), ("2026-11-28 09:00", "2026-11-28 09:00:00.000"),
    ("2026-11-28T10:00:00+01:00", "2026-11-28 09:00:00.000"), ("2h", "2026-11-28 08:30:30.000"),
    ("30m", "2026-11-28 10:00:30.000"), ("1d", "2026-11-27 10:30:30.000"), ("now", "2026-11-28 10:30:30.000"),
])
def test_parse_time(text, expected):
    assert parse_time(text, default=EARLIEST, now=NOW.to_pydatetime()) == expected


def test_bad_times_and_empty_ranges_are_one_sentence():
    with pytest.raises(TimeRangeError, match="Cannot read 'yesterday-ish' as a time"):
        time_range("yesterday-ish")
    with pytest.raises(TimeRangeError, match="The time range is empty"):
        time_range("2026-11-28T10:00:00Z", "2026-11-28T09:00:00Z")
    assert time_range() == (EARLIEST, LATEST)


def test_read_range_pages_by_id_up_to_a_fixed_id(tmp_path):
    log_file = LogFile(tmp_path)
    log_file.add([row("u", 100 - i) for i in range(25)])
    log = LocalAccessLog(log_file.state_dir)
    since = (NOW - pd.Timedelta(seconds=90)).isoformat()
    rows = read_range(log, parse_time(since, default=EARLIEST), LATEST, upto_id=20, page=4)
    assert rows["id"].tolist() == list(range(11, 21))  # created within 90 s, and not past id 20
    assert read_range(log, LATEST[:-4] + ".000", LATEST, upto_id=25).empty


def test_every_figure_keeps_its_traces_when_empty():
    empty = aggregate.prepare_rows(pd.DataFrame())
    frames = aggregate.panel_frames(empty, aggregate.empty_totals(), NOW)
    full = aggregate.panel_frames(aggregate.prepare_rows(frame(ROWS)), aggregate.empty_totals(), NOW)
    for name, builder in figures.PANEL_BUILDERS.items():
        assert len(builder(frames[name]).data) == len(builder(full[name]).data) > 0
    combined = figures.build_dashboard_figure(full)
    assert [trace.meta for trace in combined.data].count("requests") == len(aggregate.STATUS_CLASSES)
    data = figures.dashboard_trace_data(full)
    assert len(data) == len(combined.data)
    for trace, values in zip(combined.data, data, strict=True):
        assert list(trace.x) == list(values["x"]) and list(trace.y) == list(values["y"])
    assert len(figures.build_tokens_figure(aggregate.user_totals(aggregate.prepare_rows(frame(ROWS)))).data) == 2


def test_generated_at_defaults_to_now():
    document = build_report_html(frame(ROWS[:1]))
    assert f"generated {datetime.now(UTC):%Y-%m-%d}" in document
