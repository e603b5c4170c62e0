"""`gateway-ops query` only reads: on the remote D1 (which would run anything) and locally."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.exceptions import AccessLogError
from gateway_ops.readonly_sql import check_read_only

runner = CliRunner()

READS = [
    "SELECT * FROM requests",
    "select user_id, count(*) from requests group by user_id;",
    "-- the last hour\nSELECT * FROM user_summary WHERE last_seen > datetime('now', '-1 hour')",
    "WITH recent AS (SELECT * FROM requests ORDER BY id DESC LIMIT 10) SELECT * FROM recent",
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n LIMIT 5",
    "EXPLAIN QUERY PLAN SELECT * FROM requests WHERE user_id = 'a'",
    "PRAGMA table_info(requests)",
    "VALUES (1), (2)",
]
WRITES = [
    ("DELETE FROM requests", "starts with 'delete'"),
    ("/* harmless */ UPDATE requests SET status = 200", "starts with 'update'"),
    ("SELECT 1; DELETE FROM requests", "more than one statement"),
    ("WITH doomed AS (SELECT id FROM requests) DELETE FROM requests WHERE id IN doomed", "would delete"),
    ("WITH x AS (SELECT 1) INSERT INTO requests (request_id) SELECT 1", "would insert"),
    ("EXPLAIN DROP TABLE requests", "would delete (sqlite_master)"),
    ("DROP VIEW user_summary", "starts with 'drop'"),
    ("ATTACH DATABASE '/tmp/elsewhere.db' AS elsewhere", "starts with 'attach'"),
    ("VACUUM INTO '/tmp/copy.db'", "starts with 'vacuum'"),
    ("PRAGMA journal_mode = DELETE", "would run a pragma"),
    ("SELECT load_extension('/tmp/evil.so')", "would call"),
    ("", "empty"),
]


@pytest.mark.parametrize("sql", READS)
def test_reads_pass(sql):
    check_read_only(sql)


@pytest.mark.parametrize("sql, why", WRITES)
def test_anything_that_writes_is_refused_saying_why(sql, why):
    with pytest.raises(AccessLogError, match="Refusing the query") as refused:
        check_read_only(sql)
    assert why in str(refused.value)


def test_a_query_on_an_unknown_table_is_not_let_through_unchecked():
    with pytest.raises(AccessLogError, match="no such table: secrets"):
        check_read_only("SELECT * FROM secrets")


@pytest.mark.parametrize("target", ["cloudflare", "local"])
def test_the_cli_refuses_a_write_before_opening_any_log(monkeypatch, target):
    opened = []
    monkeypatch.setattr(cli, "open_access_log", lambda settings, target: opened.append(target))
    result = runner.invoke(cli.app, ["query", "DELETE FROM requests", "--target", target])
    assert result.exit_code == 1 and "Refusing the query" in result.output and "Traceback" not in result.output
    assert opened == []


def test_the_cli_sends_a_read_to_the_chosen_log(monkeypatch):
    class Log:
        sql: list[str] = []

        def query(self, sql, params=()):
            self.sql.append(sql)
            return pd.DataFrame({"n": [1]})

    monkeypatch.setattr(cli, "open_access_log", lambda settings, target: Log())
    result = runner.invoke(cli.app, ["query", "SELECT COUNT(*) AS n FROM requests", "--target", "cloudflare"])
    assert result.exit_code == 0 and Log.sql == ["SELECT COUNT(*) AS n FROM requests"]


def test_the_local_log_is_opened_read_only_even_without_the_guard(tmp_path):
    """Checked, as the issue asks: LocalAccessLog itself cannot write, whatever SQL it is given."""
    from dashboards.helpers import LogFile, row

    log_file = LogFile(tmp_path / "state")
    log_file.add([row("alice", 10)])
    with pytest.raises(AccessLogError, match="readonly database"):
        LocalAccessLog(log_file.state_dir).query("DELETE FROM requests")
    assert log_file.execute("SELECT COUNT(*) FROM requests") == [(1,)]
    with sqlite3.connect(log_file.path) as db:  # the same statement on a writable connection would have run
        assert db.execute("DELETE FROM requests").rowcount == 1
