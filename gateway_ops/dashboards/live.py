"""The dashboard's incremental reader: read the log in full once, then only the rows after the last id.

D1's Free plan allows 5 million rows *read* a day; a dashboard that rescans a 100,000-row table
every 5 seconds spends that in about an hour. So:

* **first load** — the whole table once, aggregated in SQL (requests per user up to a fixed id), plus
  the raw rows of the last ``history_minutes``, found with a k-ary search on ``id`` (a few rowid
  lookups) instead of a scan by time, since ``created_at`` has no index of its own;
* **each refresh** — ``id > last_id`` on the primary key: it reads just the new rows.

A failing data source never raises out of ``refresh()``: the last good data stays, and ``error``
says what went wrong, for the dashboard's banner.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, UTC

import pandas as pd

from .. import queries
from ..accesslog import AccessLog
from ..exceptions import GatewayOpsError
from ..log import logger
from . import aggregate

#: Ids probed per round trip of the search for the first row of the history window (D1 binds ≤ 100).
PROBES = 64


def utc_now() -> datetime:
    return datetime.now(UTC)


def created_at_text(moment) -> str:
    """``created_at``'s own format, UTC with milliseconds (``2026-11-28 09:10:49.123``): SQLite's
    ``datetime()`` text plus milliseconds, so text comparison orders by time, here and in SQL
    against ``datetime('now', '-5 minutes')``."""
    stamp = aggregate.utc(moment)
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


@dataclass(frozen=True)
class RefreshStats:
    """What one read cost and brought: shown on the dashboard as "updated …, query took …, rows read …"."""

    at: datetime
    mode: str  # "first load" or "incremental"
    rows_read: int  # rows the queries read (D1 bills these)
    new_rows: int  # rows returned and added to the view
    query_ms: float
    last_id: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class LiveFeed:
    """Keeps the last ``history_minutes`` of rows and per-user totals of the whole log, up to ``last_id``.

    :param log: the access log (local SQLite or remote D1)
    :param history_minutes: how much raw history to keep in memory (the longest panel window)
    :param batch_limit: rows per incremental query; a refresh reads at most ``max_batches`` of them
    :param clock: returns the current UTC time (tests pass a fixed one)
    """

    def __init__(self, log: AccessLog, *, history_minutes: int = 60, batch_limit: int = 10_000,
                 max_batches: int = 20, clock: Callable[[], datetime] = utc_now):
        self.log = log
        self.history_minutes = int(history_minutes)
        self.batch_limit = int(batch_limit)
        self.max_batches = int(max_batches)
        self.clock = clock
        self.rows = aggregate.prepare_rows(pd.DataFrame())
        self.totals = aggregate.empty_totals(aggregate.LIVE_TOTALS_COLUMNS)
        self.last_id = 0
        self.loaded = False
        self.history: list[RefreshStats] = []
        self.last_good: RefreshStats | None = None
        self.new_users: set[str] = set()  # users with rows in the last refresh
        self.drilldown_rows_read = 0
        self._pruned_at = 0.0

    # -- state ---------------------------------------------------------------------------------
    @property
    def last(self) -> RefreshStats | None:
        return self.history[-1] if self.history else None

    @property
    def error(self) -> str | None:
        """The last refresh's failure (None once a refresh succeeds again)."""
        return self.last.error if self.last else None

    @property
    def now(self) -> pd.Timestamp:
        return aggregate.utc(self.clock())

    # -- reading -------------------------------------------------------------------------------
    def refresh(self) -> RefreshStats:
        """First load, or the rows after ``last_id``; never raises for a failing data source."""
        mode = "incremental" if self.loaded else "first load"
        started = time.perf_counter()
        try:
            rows_read, new_rows = self._incremental() if self.loaded else self._first_load()
        except GatewayOpsError as error:
            stats = RefreshStats(self.clock(), mode, 0, 0, (time.perf_counter() - started) * 1000, self.last_id,
                                 error=str(error))
            logger.warning("dashboard refresh failed: %s", error)
        else:
            stats = RefreshStats(self.clock(), mode, rows_read, new_rows, (time.perf_counter() - started) * 1000,
                                 self.last_id)
            self.last_good = stats
        self.history.append(stats)
        del self.history[:-500]
        return stats

    def _first_load(self) -> tuple[int, int]:
        min_id, max_id = queries.id_bounds(self.log)
        if max_id == 0:
            self.loaded = True
            return 1, 0
        totals = aggregate.prepare_totals(queries.user_requests_upto(self.log, max_id), aggregate.LIVE_TOTALS_COLUMNS)
        since = self.now - pd.Timedelta(minutes=self.history_minutes)
        first_id, probes_read = self._first_id_since(min_id, max_id, created_at_text(since))
        rows = aggregate.prepare_rows(queries.dashboard_rows_between(self.log, first_id, max_id, created_at_text(since)))
        self.rows, self.totals, self.last_id, self.loaded = rows, totals, max_id, True
        table_rows = int(totals["requests"].sum())
        # The totals query reads every row (of an index); the window query reads first_id … max_id.
        return table_rows + (max_id - first_id + 1) + probes_read, len(rows)

    def _first_id_since(self, low: int, high: int, since_iso: str) -> tuple[int, int]:
        """An id at or before the first row created at/after ``since_iso`` (ids grow with time, nearly).

        A k-ary search: each round trip looks up ``PROBES`` ids by rowid and narrows the range
        ``PROBES``-fold, so a million rows take four round trips of 64 single-row reads.
        """
        read = 0
        while high - low > PROBES:
            step = (high - low) / (PROBES + 1)
            probes = sorted({int(low + step * (i + 1)) for i in range(PROBES)})
            found = queries.id_times(self.log, probes)
            read += len(found)
            if found.empty:
                break
            before = found[found["created_at"].astype("str") < since_iso]
            after = found[found["created_at"].astype("str") >= since_iso]
            new_low = int(before["id"].max()) if not before.empty else low
            new_high = int(after["id"].min()) if not after.empty else high
            if (new_low, new_high) == (low, high):
                break
            low, high = new_low, new_high
        return low, read

    def _incremental(self) -> tuple[int, int]:
        batches = []
        for _ in range(self.max_batches):
            batch = queries.dashboard_rows_after(self.log, self.last_id, self.batch_limit)
            if batch.empty:
                break
            batches.append(batch)
            self.last_id = int(batch["id"].max())
            if len(batch) < self.batch_limit:
                break
        read = sum(len(batch) for batch in batches)
        self.new_users = set()
        if batches:
            new = aggregate.prepare_rows(pd.concat(batches, ignore_index=True))
            self.new_users = set(new["user_id"])
            self.totals = aggregate.merge_totals(self.totals, aggregate.user_totals(new))
            self.rows = pd.concat([self.rows, new], ignore_index=True) if not self.rows.empty else new
        self._prune()
        return read, read

    def user_recent(self, user_id: str, n: int = 20) -> pd.DataFrame:
        """One user's last ``n`` requests with every column, straight from the log (≤ n rows read).

        :raises GatewayOpsError: when the log cannot be read
        """
        rows = aggregate.prepare_rows(queries.user_recent(self.log, user_id, n))
        self.drilldown_rows_read += len(rows)
        return rows

    def _prune(self, every_seconds: float = 30.0) -> None:
        """Drops rows older than the history window (at most every ``every_seconds``: it copies the frame)."""
        if time.monotonic() - self._pruned_at < every_seconds or self.rows.empty:
            return
        self._pruned_at = time.monotonic()
        keep = self.rows["ts"] >= self.now - pd.Timedelta(minutes=self.history_minutes)
        if not keep.all():
            self.rows = self.rows[keep].reset_index(drop=True)
