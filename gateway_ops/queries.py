"""Every SQL statement gateway_ops runs on the access log, in one place.

Each function takes an ``AccessLog`` and returns a DataFrame (or a row), with every value bound
as a ``?`` parameter. Values are written into SQL text in two places only, where nothing can be
bound, and each lets through nothing but what it has validated:

* ``D1_MIGRATIONS_RECORD``: the migration's file name, appended to the migration's own SQL so both
  run in one atomic D1 request; ``cloudflare.migrator`` admits only ``MIGRATION_NAME`` names.
* ``count_range_statement``/``delete_range_statement``: for ``wrangler d1 execute --command``,
  which binds no parameters; only integers and timestamps in ``created_at``'s exact format.

``tests/test_queries.py`` fails if SQL text is formatted anywhere else in this module.
"""
from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .accesslog import AccessLog

REQUEST_BY_ID = "SELECT * FROM requests WHERE request_id = ?"
USER_SUMMARY = "SELECT * FROM user_summary ORDER BY requests DESC, user_id"
STATUS_COUNTS_SINCE = """
SELECT user_id, status, COUNT(*) AS requests
FROM requests
WHERE created_at >= ?
GROUP BY user_id, status
ORDER BY user_id, status
"""
ROWS_AFTER = "SELECT * FROM requests WHERE id > ? ORDER BY id LIMIT ?"


def request_by_id(log: AccessLog, request_id: str) -> dict[str, Any] | None:
    """The row for one X-Request-ID, or None when it has not been written (yet)."""
    frame = log.query(REQUEST_BY_ID, [request_id])
    return None if frame.empty else frame.iloc[0].to_dict()


def user_summary(log: AccessLog) -> pd.DataFrame:
    return log.query(USER_SUMMARY)


def status_counts_since(log: AccessLog, since_iso: str) -> pd.DataFrame:
    """Requests per user and status since an ISO-8601 UTC time (load-test checks)."""
    return log.query(STATUS_COUNTS_SINCE, [since_iso])


def rows_after(log: AccessLog, last_id: int, limit: int = 10_000) -> pd.DataFrame:
    """Rows newer than ``last_id``, oldest first (incremental dashboard reads)."""
    return log.query(ROWS_AFTER, [last_id, limit])


# --- Dashboards, report and archive (gateway_ops.dashboards) --------------------------------------
# The live dashboard reads the table once in full (first load), then only rows after the last id it
# has seen: D1's Free plan allows 5 million rows *read* a day, and `id > ?` on the primary key reads
# just the new rows. Time ranges use `created_at` text comparison (UTC "YYYY-MM-DD HH:MM:SS.sss" sorts as text).

#: The columns dashboards, reports and archives use, in one order (ip_hash is never read).
DASHBOARD_COLUMNS = ("id, request_id, user_id, method, endpoint, model, status, latency_ms, ttfb_ms, tokens_est, "
                     "stream, error_class, created_at")
ID_BOUNDS = "SELECT MIN(id) AS min_id, MAX(id) AS max_id FROM requests"
#: A handful of rows by id (rowid lookups): a k-ary search for where the last hour starts.
ID_TIMES = "SELECT id, created_at FROM requests WHERE id IN ({placeholders}) ORDER BY id"
#: The full-history query, for the first load only: requests per user up to a fixed id. It reads only
#: the (user_id, created_at) index, in order (no table lookups, no sort): 5x faster than summing
#: tokens or statuses, which would visit every table row in index order.
USER_REQUESTS_UPTO = """
SELECT user_id, COUNT(*) AS requests, MIN(created_at) AS first_seen, MAX(created_at) AS last_seen
FROM requests
WHERE id <= ?
GROUP BY user_id
"""
#: The live panels' columns — numbers and the user id only (the drill-down reads the rest for one user
#: on demand); created_at arrives as epoch milliseconds (``t_ms``), computed by SQLite.
LIVE_COLUMNS = ("id, user_id, status, latency_ms, ttfb_ms, tokens_est, "
                "CAST(ROUND((julianday(created_at) - 2440587.5) * 86400000) AS INTEGER) AS t_ms")
DASHBOARD_ROWS_BETWEEN = (f"SELECT {LIVE_COLUMNS} FROM requests "
                          "WHERE id >= ? AND id <= ? AND created_at >= ? ORDER BY id")
DASHBOARD_ROWS_AFTER = f"SELECT {LIVE_COLUMNS} FROM requests WHERE id > ? ORDER BY id LIMIT ?"
#: The drill-down: one user's latest requests, newest first (the (user_id, created_at) index: n rows read).
USER_RECENT = f"SELECT {DASHBOARD_COLUMNS} FROM requests WHERE user_id = ? ORDER BY created_at DESC LIMIT ?"
#: Archive and report reads: a time range, paged by id so no single answer is huge.
RANGE_ROWS_AFTER = (f"SELECT {DASHBOARD_COLUMNS} FROM requests "
                    "WHERE created_at >= ? AND created_at < ? AND id > ? AND id <= ? ORDER BY id LIMIT ?")
RANGE_COUNT = """
SELECT COUNT(*) AS rows, MIN(id) AS min_id, MAX(id) AS max_id FROM requests
WHERE created_at >= ? AND created_at < ? AND id <= ?
"""
#: Deletes exactly the archived rows: the id span of the archive and its time range (bound parameters).
DELETE_RANGE = "DELETE FROM requests WHERE id >= ? AND id <= ? AND created_at >= ? AND created_at < ?"

#: The event's interventions (migration 0005, written by the Worker's admin API), oldest first.
#: ``source`` (a keyed hash of the caller's IP) is never read: the report shows what and when.
CONTROL_EVENTS = "SELECT id, created_at, action, target, detail FROM control_events ORDER BY id"
TABLE_EXISTS = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"


def id_bounds(log: AccessLog) -> tuple[int, int]:
    """(smallest, largest) id in the log; (0, 0) when it is empty. Two rowid lookups."""
    frame = log.query(ID_BOUNDS)
    if frame.empty or pd.isna(frame.iloc[0]["max_id"]):
        return 0, 0
    return int(frame.iloc[0]["min_id"]), int(frame.iloc[0]["max_id"])


def id_times(log: AccessLog, ids: list[int]) -> pd.DataFrame:
    """``created_at`` of the given ids that exist (at most 100 ids: D1's bound-parameter limit)."""
    if not ids:
        return pd.DataFrame(columns=["id", "created_at"])
    if len(ids) > 100:
        raise ValueError("id_times takes at most 100 ids")
    return log.query(ID_TIMES.format(placeholders=", ".join("?" * len(ids))), [int(i) for i in ids])


def user_requests_upto(log: AccessLog, max_id: int) -> pd.DataFrame:
    """Requests, first and last seen per user, of every row up to ``max_id`` (reads every row: first load only)."""
    return log.query(USER_REQUESTS_UPTO, [int(max_id)])


def dashboard_rows_between(log: AccessLog, first_id: int, last_id: int, since_iso: str) -> pd.DataFrame:
    """Rows with ``first_id <= id <= last_id`` created at or after ``since_iso``, oldest first."""
    return log.query(DASHBOARD_ROWS_BETWEEN, [int(first_id), int(last_id), since_iso])


def dashboard_rows_after(log: AccessLog, last_id: int, limit: int = 10_000) -> pd.DataFrame:
    """Rows newer than ``last_id`` (dashboard columns), oldest first: each refresh reads only these."""
    return log.query(DASHBOARD_ROWS_AFTER, [int(last_id), int(limit)])


def user_recent(log: AccessLog, user_id: str, limit: int = 20) -> pd.DataFrame:
    """One user's last ``limit`` requests, newest first."""
    return log.query(USER_RECENT, [user_id, int(limit)])


def range_rows_after(log: AccessLog, since_iso: str, until_iso: str, after_id: int, upto_id: int,
                     limit: int = 10_000) -> pd.DataFrame:
    """One page of rows in ``[since, until)`` with ``after_id < id <= upto_id``, oldest first."""
    return log.query(RANGE_ROWS_AFTER, [since_iso, until_iso, int(after_id), int(upto_id), int(limit)])


def range_count(log: AccessLog, since_iso: str, until_iso: str, upto_id: int) -> dict[str, int]:
    """How many rows (and which id span) ``[since, until)`` holds up to ``upto_id``."""
    frame = log.query(RANGE_COUNT, [since_iso, until_iso, int(upto_id)])
    if frame.empty:
        return {"rows": 0, "min_id": 0, "max_id": 0}
    row = frame.iloc[0]
    return {key: (0 if pd.isna(row.get(key)) else int(row.get(key))) for key in ("rows", "min_id", "max_id")}


#: The report's breakdown by origin (migration 0003's ``origin`` and ``gate_wait_ms``), in one
#: statement over the same range as the report: requests, answers, refusals at the gate (503
#: ``origin_busy``; such a request never reached an origin, so its ``origin`` is NULL), other 5xx,
#: the gate's wait, and nearest-rank p50/p95 of the successful answers' latency and TTFB (window
#: functions: SQLite has no percentile aggregate).
ORIGIN_BREAKDOWN = """
WITH r AS (
  SELECT origin, status, error_class, latency_ms, ttfb_ms, gate_wait_ms FROM requests
  WHERE created_at >= ? AND created_at < ? AND id <= ?
),
ok AS (
  SELECT origin, latency_ms, ttfb_ms,
         ROW_NUMBER() OVER (PARTITION BY origin ORDER BY latency_ms) AS lat_rank,
         ROW_NUMBER() OVER (PARTITION BY origin ORDER BY ttfb_ms) AS ttfb_rank,
         COUNT(*) OVER (PARTITION BY origin) AS n
  FROM r WHERE status BETWEEN 200 AND 299
),
pct AS (
  SELECT origin,
         MAX(CASE WHEN lat_rank = (n * 50 + 99) / 100 THEN latency_ms END) AS p50_ms,
         MAX(CASE WHEN lat_rank = (n * 95 + 99) / 100 THEN latency_ms END) AS p95_ms,
         MAX(CASE WHEN ttfb_rank = (n * 50 + 99) / 100 THEN ttfb_ms END) AS ttfb_p50_ms,
         MAX(CASE WHEN ttfb_rank = (n * 95 + 99) / 100 THEN ttfb_ms END) AS ttfb_p95_ms
  FROM ok GROUP BY origin
)
SELECT r.origin AS origin, COUNT(*) AS requests,
       SUM(r.status BETWEEN 200 AND 299) AS ok,
       SUM(COALESCE(r.error_class, '') = 'origin_busy') AS origin_busy,
       SUM(r.status >= 500 AND COALESCE(r.error_class, '') <> 'origin_busy') AS other_5xx,
       MAX(pct.p50_ms) AS p50_ms, MAX(pct.p95_ms) AS p95_ms,
       MAX(pct.ttfb_p50_ms) AS ttfb_p50_ms, MAX(pct.ttfb_p95_ms) AS ttfb_p95_ms,
       ROUND(AVG(r.gate_wait_ms)) AS gate_wait_avg_ms, MAX(r.gate_wait_ms) AS gate_wait_max_ms
FROM r LEFT JOIN pct ON pct.origin IS r.origin
GROUP BY r.origin
ORDER BY r.origin IS NULL, r.origin
"""


def origin_breakdown(log: AccessLog, since_iso: str, until_iso: str, upto_id: int) -> pd.DataFrame:
    """Latency and refusals per origin over ``[since, until)`` up to ``upto_id`` (one row per origin;
    ``origin`` None for requests that never reached one: refused at the gate, or stopped earlier)."""
    frame = log.query(ORIGIN_BREAKDOWN, [since_iso, until_iso, int(upto_id)])
    if "origin" in frame:
        frame["origin"] = frame["origin"].astype("object").where(frame["origin"].notna(), None)
    return frame


# --- D1 migration bookkeeping (gateway_ops.cloudflare.migrator) ---------------------------------
# The table and columns wrangler 4.86 uses (src/d1/migrations/helpers.ts), so that
# `wrangler d1 migrations list` and gateway_ops agree about what has been applied.
D1_MIGRATIONS_TABLE = "d1_migrations"
D1_MIGRATIONS_CREATE = """CREATE TABLE IF NOT EXISTS d1_migrations(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);"""
D1_MIGRATIONS_EXISTS = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
D1_MIGRATIONS_APPLIED = "SELECT id, name, applied_at FROM d1_migrations ORDER BY id"
#: Appended to a migration's own SQL so both run in one D1 request, which D1 runs atomically.
#: ``{name}`` is a validated file name (letters, digits, ``_-.``): never user input.
D1_MIGRATIONS_RECORD = "INSERT INTO d1_migrations (name) VALUES ('{name}');"


# --- load tests (gateway_ops.loadtest) ----------------------------------------------------------
# A load test notes the last id before it sends, then reads only newer rows (`id > ?` on the
# primary key), so on D1 it reads its own rows, not the whole table.

LAST_REQUEST_ID = "SELECT COALESCE(MAX(id), 0) AS last_id FROM requests"
ROWS_FOR_USER_PREFIX = """
SELECT request_id, user_id, status
FROM requests
WHERE id > ? AND user_id LIKE ?
ORDER BY id
"""


def last_request_id(log: AccessLog) -> int:
    """The newest row's id (0 for an empty log)."""
    frame = log.query(LAST_REQUEST_ID)
    return 0 if frame.empty or pd.isna(frame.iloc[0]["last_id"]) else int(frame.iloc[0]["last_id"])


def rows_for_user_prefix(log: AccessLog, prefix: str, after_id: int) -> pd.DataFrame:
    """Request id, user and status of the rows after ``after_id`` whose user id starts with
    ``prefix``: a load test's own rows (its user ids share a unique run prefix, which must not
    contain the LIKE wildcards ``%`` and ``_``)."""
    if "%" in prefix or "_" in prefix:
        raise ValueError(f"A user-id prefix for LIKE must not contain % or _: {prefix!r}.")
    return log.query(ROWS_FOR_USER_PREFIX, [int(after_id), f"{prefix}%"])


#: ``created_at``'s format (UTC, ``2026-11-28 09:10:49.123``); the only kind of text
#: ``delete_range_statement`` puts into SQL.
_CREATED_AT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}")


def _range_predicate(min_id: int, max_id: int, since_iso: str, until_iso: str) -> str:
    for value in (since_iso, until_iso):
        if not _CREATED_AT.fullmatch(value):
            raise ValueError(f"not a created_at timestamp: {value!r}")
    return (f"id >= {int(min_id)} AND id <= {int(max_id)} "
            f"AND created_at >= '{since_iso}' AND created_at < '{until_iso}'")


def count_range_statement(min_id: int, max_id: int, since_iso: str, until_iso: str) -> str:
    """How many rows DELETE_RANGE would delete, values written in (see ``delete_range_statement``)."""
    return f"SELECT COUNT(*) AS rows FROM requests WHERE {_range_predicate(min_id, max_id, since_iso, until_iso)}"


def delete_range_statement(min_id: int, max_id: int, since_iso: str, until_iso: str) -> str:
    """DELETE_RANGE with its values written in, for ``wrangler d1 execute --command`` (which binds none).

    Only integers and timestamps in ``created_at``'s exact format are accepted, so nothing else can
    reach the SQL text.
    """
    return f"DELETE FROM requests WHERE {_range_predicate(min_id, max_id, since_iso, until_iso)}"


def control_events(log: AccessLog) -> pd.DataFrame | None:
    """Every row of ``control_events``, or None when the log has no such table (before migration 0005)."""
    if log.query(TABLE_EXISTS, ["control_events"]).empty:
        return None
    return log.query(CONTROL_EVENTS)
