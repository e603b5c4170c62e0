"""Every SQL statement gateway_ops runs on the access log, in one place.

Each function takes an ``AccessLog`` and returns a DataFrame (or a row); parameters are always
bound with ``?``, never formatted into the SQL.
"""
from __future__ import annotations

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
