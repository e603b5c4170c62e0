"""Pure aggregation of access-log rows into the frames the dashboard and the report draw.

Rows in (a DataFrame of ``requests`` rows), frames out; no I/O, no clock: every function that
looks at "the last hour" takes ``now``. That keeps each aggregate testable on constructed data
(empty windows, one user, ties) and lets the live reader and the report share them.

Latency figures use the requests that went to the origin — everything except 4xx answers
(429s, bad keys, bad JSON) that the gateway gives in a millisecond and that would drag the
percentiles down.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

#: Status classes, in drawing order: the trace set of the requests-per-minute figure never changes.
STATUS_CLASSES = ("2xx", "429", "4xx", "5xx", "other")
#: Origin failures the facilitator watches: unreachable (502) and timed out (504).
ORIGIN_ERROR_STATUSES = (502, 504)
ROW_COLUMNS = ("id", "request_id", "user_id", "method", "endpoint", "model", "status", "latency_ms", "ttfb_ms",
               "tokens_est", "stream", "error_class", "created_at")
#: What every aggregate needs (and all the live feed keeps in memory); other columns pass through.
CORE_COLUMNS = ("id", "user_id", "status", "latency_ms", "ttfb_ms", "tokens_est")
TOTALS_COLUMNS = ("user_id", "requests", "rate_limited", "errors", "tokens", "first_seen", "last_seen")
#: What the live feed keeps for the whole log (what its cheap full-history query can give).
LIVE_TOTALS_COLUMNS = ("user_id", "requests", "first_seen", "last_seen")
_COUNT_COLUMNS = ("requests", "rate_limited", "errors", "tokens")
USER_TABLE_COLUMNS = ("user_id", "requests", "rate_limited", "errors", "p50_ms", "p95_ms", "tokens", "last_seen",
                      "peak_per_minute", "limit_state", "total_requests")
RECENT_COLUMNS = ("time", "status", "endpoint", "model", "latency_ms", "ttfb_ms", "tokens_est", "error_class",
                  "request_id")


def utc(value) -> pd.Timestamp:
    """A timezone-aware UTC timestamp from a string, datetime or Timestamp (naive means UTC)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def status_class(status: pd.Series) -> pd.Series:
    """'2xx', '429', '4xx', '5xx' or 'other' for each status (429 apart: it is the limit working)."""
    values = status.to_numpy(dtype="int64", na_value=0)
    labels = np.select(
        [values == 429, (values >= 200) & (values < 300), (values >= 400) & (values < 500), values >= 500],
        ["429", "2xx", "4xx", "5xx"], default="other")
    return pd.Series(pd.Categorical(labels, categories=STATUS_CLASSES), index=status.index)


def prepare_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """Typed rows with ``ts`` (UTC), ``minute`` and ``status_class`` added; any input shape, even empty.

    Keeps CORE_COLUMNS (made up when missing) and whichever other ``requests`` columns ``raw`` has.
    Time comes from ``t_ms`` (epoch ms, as the live queries return it) or else from ``created_at``.
    Numbers become float64 (NaN for missing ttfb/tokens) and text plain Python strings, so every
    aggregate and filter is a vectorised numpy operation.
    """
    names = [name for name in ROW_COLUMNS if name in CORE_COLUMNS or name in raw.columns]
    frame = pd.DataFrame({name: raw[name].to_numpy() if name in raw else np.full(len(raw), None, dtype="object")
                          for name in names})
    frame["id"] = pd.to_numeric(frame["id"], errors="coerce").fillna(0).astype("int64")
    frame["status"] = pd.to_numeric(frame["status"], errors="coerce").fillna(0).astype("int64")
    for name in ("latency_ms", "ttfb_ms", "tokens_est", "stream"):
        if name in frame:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in ("request_id", "method", "endpoint", "model", "error_class", "created_at"):
        if name in frame:
            frame[name] = frame[name].astype("object")
    frame["user_id"] = frame["user_id"].astype("object").where(frame["user_id"].notna(), "")
    if "t_ms" in raw:
        millis = pd.to_numeric(raw["t_ms"], errors="coerce").fillna(0).astype("int64").to_numpy()
        frame["ts"] = pd.to_datetime(millis, unit="ms", utc=True).astype("datetime64[ms, UTC]")
    elif "created_at" in frame:
        frame["ts"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601").astype("datetime64[ms, UTC]")
    else:
        frame["ts"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ms, UTC]")
    frame["minute"] = frame["ts"].dt.floor("min")
    frame["status_class"] = status_class(frame["status"])
    return frame


def minute_index(now, minutes: int = 60) -> pd.DatetimeIndex:
    """The ``minutes`` whole UTC minutes ending with the one ``now`` is in."""
    end = utc(now).floor("min")
    return pd.date_range(end=end, periods=max(int(minutes), 1), freq="min", name="minute").astype("datetime64[ms, UTC]")


def time_index(start, end, freq: str = "min") -> pd.DatetimeIndex:
    """Buckets of ``freq`` from the one holding ``start`` to the one holding ``end``."""
    first, last = utc(start).floor(freq), utc(end).floor(freq)
    return pd.date_range(first, max(first, last), freq=freq, name="minute").astype("datetime64[ms, UTC]")


def event_index(rows: pd.DataFrame) -> tuple[pd.DatetimeIndex, str]:
    """Buckets covering all of ``rows``, sized so a long event stays readable (≤ ~360 points)."""
    if rows.empty:
        return pd.DatetimeIndex([], tz="UTC", name="minute").astype("datetime64[ms, UTC]"), "min"
    span = rows["ts"].max() - rows["ts"].min()
    steps = (("min", "6h"), ("5min", "30h"), ("15min", "90h"))
    freq = next((step for step, width in steps if span <= pd.Timedelta(width)), "h")
    return time_index(rows["ts"].min(), rows["ts"].max(), freq), freq


def _step_ms(freq: str) -> int:
    return int(to_offset(freq).nanos // 1_000_000)


def _epoch_ms(rows: pd.DataFrame) -> np.ndarray:
    """Row times as int64 epoch milliseconds (vectorised arithmetic instead of Timestamp objects)."""
    return rows["ts"].astype("datetime64[ms, UTC]").array.asi8


def _positions(rows: pd.DataFrame, index: pd.DatetimeIndex, freq: str) -> tuple[np.ndarray, np.ndarray]:
    """(mask of rows inside ``index``, their bucket numbers 0 … len(index)-1)."""
    if len(index) == 0 or rows.empty:
        return np.zeros(len(rows), dtype=bool), np.zeros(0, dtype="int64")
    start = index[0].value // 1_000_000
    position = (_epoch_ms(rows) - start) // _step_ms(freq)
    inside = (position >= 0) & (position < len(index))
    return inside, position[inside]


def grouped_quantiles(values: np.ndarray, groups: np.ndarray, count: int,
                      quantiles: tuple[float, ...] = (0.5, 0.95)) -> np.ndarray:
    """Quantiles (linear interpolation) of ``values`` per integer group ``0 … count-1``.

    NaN values are ignored; empty groups give NaN. Shape: (count, len(quantiles)). Integer group
    codes keep pandas on its fast path (grouping by Timestamps or strings is many times slower).
    """
    result = np.full((count, len(quantiles)), np.nan)
    if len(values) == 0:
        return result
    found = pd.Series(np.asarray(values, dtype="float64")).groupby(np.asarray(groups, dtype="int64")).quantile(
        list(quantiles)).unstack()
    found = found.reindex(index=range(count), columns=list(quantiles))
    return found.to_numpy(dtype="float64")


def _bucket_quantiles(values: np.ndarray, position: np.ndarray, buckets: int, prefix: str) -> pd.DataFrame:
    return pd.DataFrame(grouped_quantiles(values, position, buckets), columns=[f"{prefix}_p50", f"{prefix}_p95"])


def requests_by_status(rows: pd.DataFrame, index: pd.DatetimeIndex, freq: str = "min") -> pd.DataFrame:
    """Requests per bucket and status class (columns STATUS_CLASSES), zero-filled over ``index``."""
    inside, position = _positions(rows, index, freq)
    classes = len(STATUS_CLASSES)
    codes = rows["status_class"].cat.codes.to_numpy()[inside] if len(position) else np.zeros(0, dtype="int64")
    counts = np.bincount(position * classes + codes, minlength=len(index) * classes).reshape(len(index), classes)
    return pd.DataFrame(counts.astype("int64"), index=index, columns=list(STATUS_CLASSES))


def requests_per_minute(rows: pd.DataFrame, now, minutes: int = 60) -> pd.DataFrame:
    """Requests per UTC minute by status class over the last ``minutes`` (the dashboard's top panel)."""
    return requests_by_status(rows, minute_index(now, minutes))


def _origin_mask(rows: pd.DataFrame) -> np.ndarray:
    status = rows["status"].to_numpy()
    return (status < 400) | (status >= 500)


def latency_over_time(rows: pd.DataFrame, index: pd.DatetimeIndex, freq: str = "min") -> pd.DataFrame:
    """p50/p95 of latency and of time to first byte per bucket (NaN where no request reached the origin)."""
    inside, position = _positions(rows, index, freq)
    origin = _origin_mask(rows)[inside]
    position = position[origin]
    latency = rows["latency_ms"].to_numpy()[inside][origin]
    ttfb = rows["ttfb_ms"].to_numpy()[inside][origin]
    frame = pd.concat([_bucket_quantiles(latency, position, len(index), "latency"),
                       _bucket_quantiles(ttfb, position, len(index), "ttfb")], axis=1)
    frame = frame[["latency_p50", "latency_p95", "ttfb_p50", "ttfb_p95"]].astype("float64")
    frame.index = index
    return frame


def latency_per_minute(rows: pd.DataFrame, now, minutes: int = 60) -> pd.DataFrame:
    return latency_over_time(rows, minute_index(now, minutes))


def origin_errors_over_time(rows: pd.DataFrame, index: pd.DatetimeIndex, freq: str = "min") -> pd.DataFrame:
    """502 and 504 answers per bucket (columns '502', '504'), zero-filled."""
    inside, position = _positions(rows, index, freq)
    status = rows["status"].to_numpy()[inside]
    columns = {str(code): np.bincount(position[status == code], minlength=len(index)).astype("int64")
               for code in ORIGIN_ERROR_STATUSES}
    return pd.DataFrame(columns, index=index)


def origin_errors_per_minute(rows: pd.DataFrame, now, minutes: int = 60) -> pd.DataFrame:
    return origin_errors_over_time(rows, minute_index(now, minutes))


def _ms_to_ts(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="int64"), unit="ms", utc=True).astype("datetime64[ms, UTC]")


def user_table(rows: pd.DataFrame, now, window_minutes: int = 15, *, limit_per_minute: int = 50,
               near_fraction: float = 0.8, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per user active in the last ``window_minutes``, busiest first (ties: user id).

    ``limit_state`` is 'over' when the user got a 429 in the window, 'near' when their busiest
    UTC minute used at least ``near_fraction`` of ``limit_per_minute``; '' otherwise. With
    ``totals`` (per-user, whole log), ``total_requests``/``total_tokens`` come from it.
    """
    start = utc(now) - pd.Timedelta(minutes=window_minutes)
    window = rows[rows["ts"] >= start]
    if window.empty:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in USER_TABLE_COLUMNS})
    codes, users = pd.factorize(window["user_id"])
    count = len(users)
    status = window["status"].to_numpy()
    stamp = _epoch_ms(window)
    table = pd.DataFrame({
        "user_id": users.astype("str"),
        "requests": np.bincount(codes, minlength=count).astype("int64"),
        "rate_limited": np.bincount(codes, weights=status == 429, minlength=count).astype("int64"),
        "errors": np.bincount(codes, weights=status >= 500, minlength=count).astype("int64"),
        "tokens": np.bincount(codes, weights=np.nan_to_num(window["tokens_est"].to_numpy()),
                              minlength=count).astype("int64"),
    })
    table["last_seen"] = _ms_to_ts(pd.Series(stamp).groupby(codes).max().reindex(range(count)).to_numpy())
    origin = _origin_mask(window)
    latency = _bucket_quantiles(window["latency_ms"].to_numpy()[origin], codes[origin], count, "latency")
    table["p50_ms"], table["p95_ms"] = latency["latency_p50"].to_numpy(), latency["latency_p95"].to_numpy()
    minute = stamp // 60_000
    minute = minute - minute.min()
    span = int(minute.max()) + 1
    admitted = status != 429
    per_minute = np.bincount(codes[admitted] * span + minute[admitted], minlength=count * span)
    table["peak_per_minute"] = per_minute.reshape(count, span).max(axis=1).astype("int64")
    near = table["peak_per_minute"] >= near_fraction * limit_per_minute
    table["limit_state"] = np.where(table["rate_limited"] > 0, "over", np.where(near, "near", ""))
    if totals is not None and not totals.empty:
        table["total_requests"] = totals.set_index("user_id")["requests"].reindex(table["user_id"]).to_numpy()
    else:
        table["total_requests"] = np.nan
    return sort_users(table[list(USER_TABLE_COLUMNS)], "requests")


def sort_users(table: pd.DataFrame, by: str = "requests", descending: bool = True) -> pd.DataFrame:
    """Sorted by ``by`` (missing values last), ties broken by user id (always ascending)."""
    if by not in table.columns:
        raise ValueError(f"cannot sort by {by!r}: choose one of {', '.join(table.columns)}")
    if by == "user_id":
        return table.sort_values("user_id", ascending=not descending, kind="stable").reset_index(drop=True)
    ordered = table.sort_values("user_id", kind="stable")
    return ordered.sort_values(by, ascending=not descending, kind="stable", na_position="last").reset_index(drop=True)


def top_users(table: pd.DataFrame, n: int = 10, by: str = "requests") -> pd.DataFrame:
    """The ``n`` busiest users of a user table or totals frame (ties: user id), with admitted and 429 counts."""
    if table.empty:
        return pd.DataFrame({"user_id": pd.Series(dtype="str"), by: pd.Series(dtype="int64"),
                             "admitted": pd.Series(dtype="int64"), "rate_limited": pd.Series(dtype="int64")})
    top = sort_users(table, by).head(n)
    rate_limited = top["rate_limited"].astype("int64") if "rate_limited" in top else 0
    return pd.DataFrame({"user_id": top["user_id"], by: top[by].astype("int64"),
                         "admitted": top["requests"].astype("int64") - rate_limited,
                         "rate_limited": rate_limited}).reset_index(drop=True)


def user_requests(rows: pd.DataFrame, user_id: str, n: int = 20) -> pd.DataFrame:
    """One user's last ``n`` requests, newest first (the drill-down)."""
    mine = rows[rows["user_id"] == user_id].sort_values("id", ascending=False).head(n).assign(time=lambda f: f["ts"])
    return mine[[name for name in RECENT_COLUMNS if name in mine]].reset_index(drop=True)


def find_users(users: Iterable[str], text: str) -> list[str]:
    """Users matching ``text``: an exact match alone, else every case-insensitive substring match, sorted."""
    text = (text or "").strip()
    known = sorted(set(users))
    if not text:
        return []
    if text in known:
        return [text]
    needle = text.lower()
    return [user for user in known if needle in user.lower()]


def user_totals(rows: pd.DataFrame) -> pd.DataFrame:
    """Additive per-user totals of prepared rows (same shape as the full-history query's answer)."""
    if rows.empty:
        return empty_totals()
    codes, users = pd.factorize(rows["user_id"])
    count = len(users)
    status = rows["status"].to_numpy()
    stamp = pd.Series(_epoch_ms(rows)).groupby(codes)
    totals = pd.DataFrame({
        "user_id": users.astype("str"),
        "requests": np.bincount(codes, minlength=count),
        "rate_limited": np.bincount(codes, weights=status == 429, minlength=count),
        "errors": np.bincount(codes, weights=status >= 500, minlength=count),
        "tokens": np.bincount(codes, weights=np.nan_to_num(rows["tokens_est"].to_numpy()), minlength=count),
        "first_seen": _ms_to_ts(stamp.min().reindex(range(count)).to_numpy()),
        "last_seen": _ms_to_ts(stamp.max().reindex(range(count)).to_numpy()),
    })
    return _typed_totals(totals)


def empty_totals(columns: tuple[str, ...] = TOTALS_COLUMNS) -> pd.DataFrame:
    return _typed_totals(pd.DataFrame({name: [] for name in columns}))


def prepare_totals(raw: pd.DataFrame, columns: tuple[str, ...] = TOTALS_COLUMNS) -> pd.DataFrame:
    """A per-user totals query's answer, typed like ``user_totals`` (only ``columns`` that it has)."""
    present = tuple(name for name in columns if name in raw.columns) or columns
    if raw.empty:
        return empty_totals(present)
    totals = raw[list(present)].copy()
    for name in ("first_seen", "last_seen"):
        if name in totals:
            totals[name] = pd.to_datetime(totals[name], utc=True, format="ISO8601")
    return _typed_totals(totals)


def _typed_totals(totals: pd.DataFrame) -> pd.DataFrame:
    totals = totals.copy()
    totals["user_id"] = totals["user_id"].astype("str").astype("object")
    for name in _COUNT_COLUMNS:
        if name in totals:
            totals[name] = pd.to_numeric(totals[name]).fillna(0).astype("int64")
    for name in ("first_seen", "last_seen"):
        if name in totals:
            totals[name] = pd.to_datetime(totals[name], utc=True).astype("datetime64[ms, UTC]")
    return totals[[name for name in TOTALS_COLUMNS if name in totals]].reset_index(drop=True)


def merge_totals(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Totals of two disjoint sets of rows (``old``'s columns): counts add up, first/last seen take min/max."""
    if new.empty:
        return old
    new = new[list(old.columns)]
    if old.empty:
        return new.reset_index(drop=True)
    both = pd.concat([old, new], ignore_index=True).groupby("user_id", sort=False)
    merged = both[[name for name in _COUNT_COLUMNS if name in old]].sum()
    merged["first_seen"] = both["first_seen"].min()
    merged["last_seen"] = both["last_seen"].max()
    return _typed_totals(merged.reset_index())


def event_summary(rows: pd.DataFrame, *, slo: float = 0.99) -> dict:
    """Totals of an event: requests, attendees active, tokens, 429s, 5xx and the error budget.

    The error budget is the share of 5xx answers an ``slo`` of successful service allows
    (429s are the limit doing its job, not errors); ``budget_used`` above 1 means it was blown.
    """
    requests = int(len(rows))
    errors = int((rows["status"] >= 500).sum()) if requests else 0
    allowed = (1 - slo) * requests
    attendees = rows.loc[~rows["user_id"].str.startswith("~"), "user_id"] if requests else pd.Series(dtype="str")
    return {
        "requests": requests,
        "attendees_active": int(attendees.nunique()),
        "tokens": int(rows["tokens_est"].fillna(0).sum()) if requests else 0,
        "rate_limited": int((rows["status"] == 429).sum()) if requests else 0,
        "users_rate_limited": int(rows.loc[rows["status"] == 429, "user_id"].nunique()) if requests else 0,
        "errors_5xx": errors,
        "origin_errors": int(rows["status"].isin(ORIGIN_ERROR_STATUSES).sum()) if requests else 0,
        "error_rate": errors / requests if requests else 0.0,
        "slo": slo,
        "errors_allowed": allowed,
        "budget_used": (errors / allowed) if allowed else (0.0 if errors == 0 else float("inf")),
        "first": rows["ts"].min() if requests else None,
        "last": rows["ts"].max() if requests else None,
    }


def busiest_minutes(rows: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` UTC minutes with the most requests (ties: earliest first), with users, 429s and 5xx."""
    columns = ["minute", "requests", "users", "rate_limited", "errors"]
    if rows.empty:
        return pd.DataFrame({name: [] for name in columns})
    grouped = rows.groupby("minute")
    frame = pd.DataFrame({
        "requests": grouped.size(),
        "users": grouped["user_id"].nunique(),
        "rate_limited": (rows["status"] == 429).groupby(rows["minute"]).sum(),
        "errors": (rows["status"] >= 500).groupby(rows["minute"]).sum(),
    }).reset_index()
    frame = frame.sort_values("minute").sort_values("requests", ascending=False, kind="stable").head(n)
    return frame[columns].reset_index(drop=True)


def panel_frames(rows: pd.DataFrame, totals: pd.DataFrame, now, *, window_minutes: int = 15,
                 limit_per_minute: int = 50, near_fraction: float = 0.8, top_n: int = 10,
                 panel_minutes: int = 60) -> dict[str, pd.DataFrame]:
    """Every live panel's frame at ``now``: what one dashboard refresh computes after its query."""
    table = user_table(rows, now, window_minutes, limit_per_minute=limit_per_minute, near_fraction=near_fraction,
                       totals=totals)
    return {
        "requests": requests_per_minute(rows, now, panel_minutes),
        "latency": latency_per_minute(rows, now, panel_minutes),
        "origin_errors": origin_errors_per_minute(rows, now, panel_minutes),
        "top_users": top_users(table, top_n),
        "users": table,
    }
