"""Every aggregate on constructed rows: empty windows, one user, ties, window edges."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gateway_ops.dashboards import aggregate as A

from .helpers import NOW, frame, iso, row


def rows_of(*specs) -> pd.DataFrame:
    return A.prepare_rows(frame(list(specs)))


EMPTY = A.prepare_rows(pd.DataFrame())


def test_prepare_rows_types_any_input_even_empty():
    assert len(EMPTY) == 0 and {"id", "user_id", "status", "ts", "minute", "status_class"} <= set(EMPTY.columns)
    assert str(EMPTY["ts"].dtype) == "datetime64[ms, UTC]"
    prepared = rows_of(row("a", 5, tokens=None, ttfb=None))
    assert prepared.loc[0, "ts"] == NOW - pd.Timedelta(seconds=5)
    assert np.isnan(prepared.loc[0, "tokens_est"]) and np.isnan(prepared.loc[0, "ttfb_ms"])


def test_prepare_rows_reads_epoch_milliseconds_like_created_at():
    from_text = rows_of(row("a", 5))
    as_millis = pd.DataFrame({"id": [1], "user_id": ["a"], "status": [200], "latency_ms": [1], "ttfb_ms": [1],
                              "tokens_est": [1], "t_ms": [int((NOW - pd.Timedelta(seconds=5)).value // 1_000_000)]})
    assert A.prepare_rows(as_millis).loc[0, "ts"] == from_text.loc[0, "ts"]


@pytest.mark.parametrize("status, expected", [(200, "2xx"), (204, "2xx"), (429, "429"), (400, "4xx"), (403, "4xx"),
                                              (500, "5xx"), (502, "5xx"), (504, "5xx"), (302, "other"), (0, "other")])
def test_status_classes(status, expected):
    assert A.status_class(pd.Series([status]))[0] == expected


def test_requests_per_minute_covers_exactly_the_last_hour_by_class():
    rows = rows_of(row("a", 0), row("a", 1, status=429), row("b", 65, status=502), row("b", 59 * 60 + 29),
                   row("c", 60 * 60 + 31), row("c", -90))  # 60 min + 31 s ago is out; 90 s in the future is out
    per_minute = A.requests_per_minute(rows, NOW)
    assert len(per_minute) == 60 and per_minute.index[-1] == NOW.floor("min")
    assert per_minute.index[0] == NOW.floor("min") - pd.Timedelta(minutes=59)
    assert list(per_minute.columns) == list(A.STATUS_CLASSES)
    assert per_minute.loc[NOW.floor("min"), "2xx"] == 1 and per_minute.loc[NOW.floor("min"), "429"] == 1
    assert per_minute.loc[NOW.floor("min") - pd.Timedelta(minutes=1), "5xx"] == 1
    assert per_minute.to_numpy().sum() == 4


def test_requests_per_minute_of_an_empty_window_is_all_zeros():
    per_minute = A.requests_per_minute(EMPTY, NOW, minutes=5)
    assert per_minute.shape == (5, 5) and per_minute.to_numpy().sum() == 0


def test_latency_per_minute_uses_requests_that_reached_the_origin():
    rows = rows_of(row("a", 1, latency=100, ttfb=10), row("a", 2, latency=300, ttfb=None),
                   row("a", 3, status=502, latency=500, ttfb=None), row("a", 4, status=429, latency=1, ttfb=None),
                   row("a", 5, status=400, latency=2, ttfb=None))
    latency = A.latency_per_minute(rows, NOW, minutes=3)
    last = latency.loc[NOW.floor("min")]
    assert last["latency_p50"] == 300 and last["latency_p95"] == pytest.approx(np.percentile([100, 300, 500], 95))
    assert last["ttfb_p50"] == 10 and last["ttfb_p95"] == 10  # missing TTFBs are ignored, not zeros
    assert latency.iloc[:2].isna().all().all()  # minutes without traffic are gaps, not zeros


def test_origin_errors_count_502_and_504_only():
    rows = rows_of(row("a", 1, status=502), row("a", 2, status=504), row("a", 3, status=504), row("a", 4, status=500),
                   row("a", 5, status=429))
    errors = A.origin_errors_per_minute(rows, NOW, minutes=2)
    assert list(errors.columns) == ["502", "504"]
    assert errors.loc[NOW.floor("min")].tolist() == [1, 2] and errors.to_numpy().sum() == 3


def test_user_table_of_an_empty_window_has_the_columns_and_no_rows():
    table = A.user_table(rows_of(row("old", 20 * 60)), NOW, window_minutes=15)
    assert table.empty and list(table.columns) == list(A.USER_TABLE_COLUMNS)


def test_user_table_for_one_user():
    rows = rows_of(row("solo", 10, latency=100, tokens=5), row("solo", 20, latency=200, tokens=7),
                   row("solo", 30, status=429, latency=1, tokens=None), row("solo", 40, status=504, latency=900))
    table = A.user_table(rows, NOW, window_minutes=5)
    assert len(table) == 1
    solo = table.iloc[0]
    assert (solo["user_id"], solo["requests"], solo["rate_limited"], solo["errors"]) == ("solo", 4, 1, 1)
    assert solo["tokens"] == 5 + 7 + 10  # the 504 row carries the default 10 tokens
    assert solo["p50_ms"] == 200 and solo["p95_ms"] == pytest.approx(np.percentile([100, 200, 900], 95))
    assert solo["last_seen"] == NOW - pd.Timedelta(seconds=10)
    assert solo["limit_state"] == "over" and np.isnan(solo["total_requests"])


def test_user_table_window_edges_and_ties_sort_by_user_id():
    rows = rows_of(row("b", 10), row("a", 20), row("c", 299), row("c", 301))
    table = A.user_table(rows, NOW, window_minutes=5)
    assert table["user_id"].tolist() == ["a", "b", "c"] and table["requests"].tolist() == [1, 1, 1]


def test_user_table_flags_near_and_over_the_limit():
    minute = NOW.floor("min")
    seconds_into_minute = (NOW - minute).total_seconds()
    near = [row("near", seconds_into_minute - 1 - i * 0.1) for i in range(8)]  # 8 in one minute, limit 10
    spread = [row("spread", i * 61) for i in range(8)]  # 8 requests, one per minute
    over = [row("over", 5), row("over", 6, status=429)]
    table = A.user_table(rows_of(*near, *spread, *over), NOW, window_minutes=15, limit_per_minute=10)
    states = dict(zip(table["user_id"], table["limit_state"], strict=True))
    assert states == {"near": "near", "spread": "", "over": "over"}
    assert dict(zip(table["user_id"], table["peak_per_minute"], strict=True))["near"] == 8


def test_user_table_takes_all_time_requests_from_totals():
    rows = rows_of(row("a", 10), row("b", 10))
    totals = A.user_totals(rows_of(row("a", 10), row("a", 5000), row("b", 10)))
    table = A.user_table(rows, NOW, totals=totals)
    assert dict(zip(table["user_id"], table["total_requests"], strict=True)) == {"a": 2, "b": 1}


def test_sort_users_puts_missing_values_last_and_breaks_ties_by_user():
    table = pd.DataFrame({"user_id": ["c", "a", "b", "d"], "p95_ms": [5.0, np.nan, 5.0, 9.0]})
    assert A.sort_users(table, "p95_ms")["user_id"].tolist() == ["d", "b", "c", "a"]
    assert A.sort_users(table, "p95_ms", descending=False)["user_id"].tolist() == ["b", "c", "d", "a"]
    assert A.sort_users(table, "user_id", descending=False)["user_id"].tolist() == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="cannot sort by 'nope'"):
        A.sort_users(table, "nope")


def test_top_users_limits_orders_and_splits_admitted_from_429s():
    rows = rows_of(*[row("x", i) for i in range(3)], row("x", 9, status=429), *[row("y", i) for i in range(4)],
                   *[row("z", i) for i in range(2)])
    top = A.top_users(A.user_table(rows, NOW), n=2)
    assert top["user_id"].tolist() == ["x", "y"]  # both 4 requests: a tie, broken by user id
    assert top[["requests", "admitted", "rate_limited"]].values.tolist() == [[4, 3, 1], [4, 4, 0]]
    assert A.top_users(A.user_table(EMPTY, NOW)).empty


def test_user_requests_is_one_users_latest_first():
    rows = rows_of(*[row("me", 100 - i, request_id=f"r{i}") for i in range(30)], row("other", 1))
    recent = A.user_requests(rows, "me", n=5)
    assert recent["request_id"].tolist() == ["r29", "r28", "r27", "r26", "r25"]
    assert A.user_requests(rows, "nobody").empty


def test_find_users():
    users = ["alice", "Alicia", "bob", "al"]
    assert A.find_users(users, "al") == ["al"]  # an exact match wins
    assert A.find_users(users, "ALI") == ["Alicia", "alice"]
    assert A.find_users(users, "  ") == [] and A.find_users(users, "zed") == []


def test_totals_merge_like_the_totals_of_all_rows():
    old_rows = rows_of(row("a", 100, tokens=3), row("b", 90, status=429), row("a", 80, status=502))
    new_rows = A.prepare_rows(frame([row("a", 5, tokens=4), row("c", 1)]).assign(id=[4, 5]))
    merged = A.merge_totals(A.user_totals(old_rows), A.user_totals(new_rows)).set_index("user_id").sort_index()
    expected = A.user_totals(pd.concat([old_rows, new_rows])).set_index("user_id").sort_index()
    pd.testing.assert_frame_equal(merged, expected)
    assert A.merge_totals(A.empty_totals(), A.user_totals(new_rows)).shape[0] == 2
    assert A.merge_totals(A.user_totals(old_rows), A.empty_totals()).shape[0] == 2


def test_live_totals_keep_only_what_the_cheap_query_gives():
    raw = pd.DataFrame({"user_id": ["a"], "requests": [3], "first_seen": [iso(NOW)], "last_seen": [iso(NOW)]})
    totals = A.prepare_totals(raw, A.LIVE_TOTALS_COLUMNS)
    assert list(totals.columns) == list(A.LIVE_TOTALS_COLUMNS)
    merged = A.merge_totals(totals, A.user_totals(rows_of(row("a", 1), row("b", 1))))
    assert list(merged.columns) == list(A.LIVE_TOTALS_COLUMNS)
    assert dict(zip(merged["user_id"], merged["requests"], strict=True)) == {"a": 4, "b": 1}


def test_event_summary_and_error_budget():
    assert A.event_summary(EMPTY)["requests"] == 0 and A.event_summary(EMPTY)["budget_used"] == 0
    rows = rows_of(*[row(f"u{i % 3}", i) for i in range(196)], row("u0", 1, status=429), row("~unknown", 1, status=400),
                   row("u1", 1, status=502), row("u2", 1, status=504))
    summary = A.event_summary(rows, slo=0.99)
    assert summary["requests"] == 200 and summary["attendees_active"] == 3  # "~…" placeholders are not attendees
    assert summary["rate_limited"] == 1 and summary["errors_5xx"] == 2 and summary["origin_errors"] == 2
    assert summary["errors_allowed"] == pytest.approx(2.0) and summary["budget_used"] == pytest.approx(1.0)
    assert A.event_summary(rows_of(row("a", 1, status=500)), slo=1.0)["budget_used"] == float("inf")


def test_busiest_minutes_ties_go_to_the_earliest():
    rows = rows_of(row("a", 0), row("b", 1), row("a", 65), row("b", 66), row("c", 130))
    busiest = A.busiest_minutes(rows, n=2)
    assert busiest["minute"].tolist() == [NOW.floor("min") - pd.Timedelta(minutes=1), NOW.floor("min")]
    assert busiest["requests"].tolist() == [2, 2] and busiest["users"].tolist() == [2, 2]
    assert A.busiest_minutes(EMPTY).empty


@pytest.mark.parametrize("hours, freq", [(1, "min"), (12, "5min"), (48, "15min"), (200, "h")])
def test_event_index_keeps_long_events_readable(hours, freq):
    rows = rows_of(row("a", 0), row("a", hours * 3600))
    index, chosen = A.event_index(rows)
    assert chosen == freq and len(index) <= 400
    assert A.requests_by_status(rows, index, chosen).to_numpy().sum() == 2


def test_grouped_quantiles_match_pandas():
    rng = np.random.default_rng(7)
    values = rng.integers(0, 1000, 3000).astype(float)
    values[::11] = np.nan
    groups = rng.integers(0, 30, 3000)
    reference = pd.Series(values).groupby(groups).quantile([0.5, 0.95]).unstack().reindex(range(33)).to_numpy()
    np.testing.assert_allclose(A.grouped_quantiles(values, groups, 33), reference)
    assert np.isnan(A.grouped_quantiles(np.array([]), np.array([]), 2)).all()


def test_panel_frames_are_every_panel():
    frames = A.panel_frames(rows_of(row("a", 1)), A.empty_totals(), NOW)
    assert set(frames) == {"requests", "latency", "origin_errors", "top_users", "users"}
    assert frames["users"]["user_id"].tolist() == ["a"]
