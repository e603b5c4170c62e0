"""The incremental reader on a real SQLite access log (built from the migration), read through LocalAccessLog."""
from __future__ import annotations

import pandas as pd
import pytest

from gateway_ops import queries
from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.dashboards import aggregate
from gateway_ops.dashboards.live import LiveFeed, created_at_text
from gateway_ops.exceptions import AccessLogError

from .helpers import NOW, LogFile, row


class RecordingLog:
    """The real local log, recording each statement and how many rows it returned."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[tuple[str, int]] = []
        self.failing = False

    def query(self, sql, params=()):
        if self.failing:
            raise AccessLogError("The access-log query failed: database is locked.")
        result = self.inner.query(sql, params)
        self.calls.append((sql, len(result)))
        return result


@pytest.fixture
def log_file(tmp_path):
    return LogFile(tmp_path)


@pytest.fixture
def log(log_file):
    return RecordingLog(LocalAccessLog(log_file.state_dir))


def feed_at(log, now=NOW, **options) -> LiveFeed:
    return LiveFeed(log, clock=lambda: now.to_pydatetime(), **options)


def test_an_empty_log_loads_and_shows_nothing(log):
    feed = feed_at(log)
    stats = feed.refresh()
    assert stats.ok and stats.mode == "first load" and stats.new_rows == 0 and feed.rows.empty
    assert feed.refresh().mode == "incremental"


def test_first_load_keeps_the_history_window_and_whole_log_totals(log_file, log):
    old = [row("early", 3 * 3600 + i) for i in range(500)]  # three hours ago: totals only
    recent = [row("now", 600 - i) for i in range(300)] + [row("early", 30)]
    log_file.add(old + recent)
    feed = feed_at(log, history_minutes=60)
    stats = feed.refresh()
    assert stats.ok and stats.new_rows == len(recent) and len(feed.rows) == len(recent)
    assert set(feed.rows["user_id"]) == {"now", "early"} and feed.last_id == 801
    totals = dict(zip(feed.totals["user_id"], feed.totals["requests"], strict=True))
    assert totals == {"early": 501, "now": 300}
    # The window's rows are found by a k-ary id search, not by scanning the old rows.
    window_reads = [n for sql, n in log.calls if sql == queries.DASHBOARD_ROWS_BETWEEN]
    assert window_reads == [len(recent)]
    assert stats.rows_read < 801 + 801  # the totals read the whole table once; the window far less than all


def test_the_id_search_finds_the_window_start_in_a_large_log(log_file, log):
    log_file.add([row("u", 7200 - i * 0.5) for i in range(14_000)])  # 2 h ago … 200 s ago, 2 rows a second
    feed = feed_at(log, history_minutes=30)
    feed.refresh()
    # Rows at most 1,800 s old: i >= 10,800, so ids 10,801 … 14,000.
    assert len(feed.rows) == 3200 and feed.rows["id"].min() == 10_801
    probes = [n for sql, n in log.calls if sql.startswith("SELECT id, created_at FROM requests WHERE id IN")]
    assert 0 < len(probes) <= 4 and sum(probes) <= 4 * 64


def test_each_refresh_reads_only_rows_after_the_last_id(log_file, log):
    log_file.add([row("a", 100 - i) for i in range(50)])
    feed = feed_at(log)
    feed.refresh()
    log.calls.clear()
    log_file.add([row("b", 5), row("b", 4), row("a", 3)])
    stats = feed.refresh()
    assert stats.ok and stats.mode == "incremental" and stats.rows_read == 3 and stats.new_rows == 3
    assert [sql for sql, _ in log.calls] == [queries.DASHBOARD_ROWS_AFTER]  # no full-history query again
    assert feed.new_users == {"a", "b"} and feed.last_id == 53 and len(feed.rows) == 53
    assert dict(zip(feed.totals["user_id"], feed.totals["requests"], strict=True)) == {"a": 51, "b": 2}
    idle = feed.refresh()
    assert idle.rows_read == 0 and feed.new_users == set()


def test_a_big_backlog_is_read_in_bounded_batches(log_file, log):
    feed = feed_at(log, batch_limit=10, max_batches=3)
    feed.refresh()
    log_file.add([row("a", 100 - i) for i in range(45)])
    assert feed.refresh().rows_read == 30  # 3 batches of 10; the rest waits for the next refresh
    assert feed.refresh().rows_read == 15 and feed.last_id == 45


def test_a_failing_source_keeps_the_last_good_data_and_says_so(log_file, log):
    log_file.add([row("a", 10)])
    feed = feed_at(log)
    good = feed.refresh()
    log.failing = True
    failed = feed.refresh()
    assert not failed.ok and failed.error is not None and "database is locked" in failed.error and feed.error == failed.error
    assert feed.last_good is good and len(feed.rows) == 1 and feed.last_id == 1
    log.failing = False
    log_file.add([row("a", 5)])
    recovered = feed.refresh()
    assert recovered.ok and feed.error is None and len(feed.rows) == 2


def test_a_failing_first_load_retries_as_a_first_load(log_file, log):
    log.failing = True
    assert feed_at(log).refresh().error
    feed = feed_at(log)
    feed.refresh()
    log.failing = False
    log_file.add([row("a", 1)])
    assert feed.refresh().mode == "first load" and len(feed.rows) == 1


def test_rows_older_than_the_history_window_are_dropped(log_file, log):
    log_file.add([row("a", 50 * 60), row("a", 10)])
    now = {"t": NOW}
    feed = LiveFeed(log, history_minutes=60, clock=lambda: now["t"].to_pydatetime())
    feed.refresh()
    assert len(feed.rows) == 2
    now["t"] = NOW + pd.Timedelta(minutes=20)
    feed._pruned_at = 0  # as if 30 s had passed since the last prune
    feed.refresh()
    assert feed.rows["user_id"].tolist() == ["a"] and len(feed.rows) == 1


def test_the_drill_down_reads_one_users_rows_with_every_column(log_file, log):
    log_file.add([row("me", 100 - i, request_id=f"r{i}") for i in range(30)] + [row("you", 1)])
    feed = feed_at(log)
    feed.refresh()
    assert "request_id" not in feed.rows  # the live rows stay lean
    recent = feed.user_recent("me", 5)
    assert recent["request_id"].tolist() == ["r29", "r28", "r27", "r26", "r25"] and feed.drilldown_rows_read == 5


def test_created_at_text_is_created_at_format():
    assert created_at_text("2026-11-28T09:10:49.1234Z") == "2026-11-28 09:10:49.123"
    assert created_at_text(pd.Timestamp("2026-11-28 10:10:49", tz="Europe/Paris")) == "2026-11-28 09:10:49.000"
    assert aggregate.utc("2026-11-28T09:00:00") == pd.Timestamp("2026-11-28T09:00:00Z")


def test_the_feed_reads_remote_d1_through_the_api_the_same_way(log_file):
    from gateway_ops.accesslog import CloudflareAccessLog

    from .test_archive import ACCOUNT, DATABASE, FakeCloudflare, fake_client

    log_file.add([row("early", 3 * 3600)] + [row("now", 60 - i) for i in range(20)])
    fake = FakeCloudflare(log_file.path)
    feed = feed_at(CloudflareAccessLog(fake_client(fake), ACCOUNT, DATABASE))
    assert feed.refresh().ok and len(feed.rows) == 20 and feed.last_id == 21
    log_file.add([row("now", 1)])
    fake.statements.clear()
    stats = feed.refresh()
    assert stats.rows_read == 1 and [s["sql"] for s in fake.statements] == [queries.DASHBOARD_ROWS_AFTER]
    assert fake.statements[0]["params"] == ["21", "10000"]  # D1 takes parameters as strings
