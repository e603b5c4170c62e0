"""Time ranges of the access log (for the report and the archive) and reading one in pages.

A range is ``[since, until)`` in ``created_at``'s own text format, so SQLite and D1 compare it as
text in index order. Reads go in pages by id (``id > last`` … ``LIMIT n``) up to an id fixed at
the start, so rows written meanwhile neither shift the pages nor sneak into the result.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, UTC

import pandas as pd

from .. import queries
from ..accesslog import AccessLog
from ..exceptions import GatewayOpsError
from .live import created_at_text

EARLIEST = "0000-01-01 00:00:00.000"
LATEST = "9999-12-31 23:59:59.999"
_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*(m|min|h|d)", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}


class TimeRangeError(GatewayOpsError):
    """A time range could not be understood, or ends before it starts."""


def parse_time(text: str | None, *, default: str, now: datetime | None = None) -> str:
    """``created_at``-format text for an ISO 8601 time (naive means UTC), ``now``, or ``2h``/``30m``/``1d`` ago.

    :raises TimeRangeError: for anything else, in one sentence
    """
    text = (text or "").strip()
    if not text:
        return default
    now = now or datetime.now(UTC)
    if text.lower() == "now":
        return created_at_text(now)
    ago = _AGO.fullmatch(text)
    if ago:
        return created_at_text(now - timedelta(**{_UNITS[ago.group(2).lower()]: float(ago.group(1))}))
    try:
        return created_at_text(pd.Timestamp(text))
    except (ValueError, TypeError):
        raise TimeRangeError(
            f"Cannot read {text!r} as a time: use ISO 8601 (e.g. 2026-11-28T09:00:00Z; no zone means UTC), "
            "'now', or an age such as 2h, 30m or 1d.") from None


def time_range(since: str | None = None, until: str | None = None, *, now: datetime | None = None) -> tuple[str, str]:
    """``(since, until)`` as created_at text; empty ends mean the start/end of the log."""
    start = parse_time(since, default=EARLIEST, now=now)
    end = parse_time(until, default=LATEST, now=now)
    if start >= end:
        raise TimeRangeError(f"The time range is empty: since ({start}) must be before until ({end}).")
    return start, end


def read_range(log: AccessLog, since_iso: str, until_iso: str, *, upto_id: int, page: int = 10_000,
               progress: bool = False) -> pd.DataFrame:
    """Every row in ``[since, until)`` with ``id <= upto_id``, oldest first, read a page at a time."""
    total = queries.range_count(log, since_iso, until_iso, upto_id)["rows"]
    pages: list[pd.DataFrame] = []
    after = 0
    bar = None
    if progress and total:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="rows", desc="reading the access log")
    try:
        while True:
            chunk = queries.range_rows_after(log, since_iso, until_iso, after, upto_id, page)
            if chunk.empty:
                break
            pages.append(chunk)
            after = int(chunk["id"].max())
            if bar is not None:
                bar.update(len(chunk))
            if len(chunk) < page:
                break
    finally:
        if bar is not None:
            bar.close()
    if not pages:
        return pd.DataFrame(columns=[c.strip() for c in queries.DASHBOARD_COLUMNS.split(",")])
    return pd.concat(pages, ignore_index=True)
