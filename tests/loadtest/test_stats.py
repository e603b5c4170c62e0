"""Records → DataFrame → statistics, on constructed records (no network)."""
import math

import numpy as np
import pytest

from gateway_ops.loadtest.records import DROPPED, Record, records_frame
from gateway_ops.loadtest.stats import achieved_rps, jsonable, percentiles, report_text, step_table, summarize


def record(i, scheduled, start, end, status=200, error="", step=0, **extra):
    return Record(i, step, f"u{i % 3}", scheduled, start_s=start, first_byte_s=start + 0.001, end_s=end,
                  status=status, error=error, **extra)


def test_latency_is_from_the_intended_send_and_service_from_the_actual_one():
    frame = records_frame([record(0, 1.0, 1.5, 1.7)], wall_t0=1_000.0)
    row = frame.iloc[0]
    assert row["latency_ms"] == pytest.approx(700)
    assert row["service_ms"] == pytest.approx(200)
    assert row["send_lag_ms"] == pytest.approx(500)
    assert row["done_epoch_s"] == pytest.approx(1_001.7)
    assert str(row["done_at"]).startswith("1970-01-01 00:16:41.7")


def test_time_per_output_token_spans_first_to_last_token():
    streamed = Record(0, 0, "u", 0.0, stream=True, start_s=0.0, first_token_s=0.1, last_token_s=0.4, end_s=0.41,
                      status=200, output_tokens=4)
    one_token = Record(1, 0, "u", 0.0, stream=True, start_s=0.0, first_token_s=0.1, last_token_s=0.1, end_s=0.2,
                       status=200, output_tokens=1)
    frame = records_frame([streamed, one_token])
    assert frame["ttft_ms"].tolist() == pytest.approx([100, 100])
    assert frame["tpot_ms"].iloc[0] == pytest.approx(100)
    assert math.isnan(frame["tpot_ms"].iloc[1])


def test_hdr_percentiles_match_exact_percentiles_within_a_tenth_of_a_percent():
    values = np.random.default_rng(7).lognormal(4, 1, 20_000)
    got = percentiles(values)
    for p in (50, 90, 95, 99):
        exact = np.percentile(values, p, method="higher")
        assert got[f"p{p}"] == pytest.approx(exact, rel=2e-3)
    assert got["max"] == pytest.approx(values.max(), rel=1e-3)


def test_percentiles_of_nothing_are_nan_and_ignore_nan_values():
    assert all(math.isnan(v) for v in percentiles([]).values())
    assert percentiles([float("nan"), 10.0])["p50"] == pytest.approx(10.0, rel=1e-3)


def test_report_keeps_429_apart_from_5xx_and_counts_errors_by_type():
    records = [record(i, i * 0.1, i * 0.1, i * 0.1 + 0.05) for i in range(6)]
    records += [record(6, 0.6, 0.6, 0.61, status=429), record(7, 0.7, 0.7, 0.75, status=503),
                record(8, 0.8, 0.8, 0.9, status=0, error="timeout"),
                Record(9, 0, "u", 0.9, error=DROPPED)]
    report = summarize(records_frame(records), target_rps=10)
    assert report.requests == 10
    assert report.status_codes == {"200": 6, "429": 1, "503": 1}
    assert report.rate_limited == 1 and report.server_errors == 1
    assert report.errors == {"timeout": 1, DROPPED: 1} and report.dropped == 1
    assert report.success_ratio == pytest.approx(0.6)
    assert report.rate_rps == pytest.approx(10, rel=0.01)  # 9 sends spaced 0.1 s
    text = report_text(report)
    assert "429 rate-limited: 1, 5xx: 1" in text and "timeout: 1" in text and "(target 10/s)" in text


def test_achieved_rate_equals_offered_at_steady_latency_and_drops_with_a_backlog():
    steady = records_frame([record(i, i / 10, i / 10, i / 10 + 0.3) for i in range(20)])
    assert achieved_rps(steady, 10) == pytest.approx(10)
    backlog = records_frame([record(i, i / 10, i / 10, 0.3 + i * 0.2) for i in range(20)])  # served at 5/s
    assert achieved_rps(backlog, 10) == pytest.approx(20 / (19 * 0.2 + 0.1))


def test_step_table_has_the_design_fields_per_step():
    records = [record(i, i / 5, i / 5, i / 5 + 0.1, step=0) for i in range(10)]
    records += [record(10 + i, 2 + i / 10, 2 + i / 10, 2 + i / 10 + 0.2, step=1, status=200 if i % 4 else 500)
                for i in range(20)]
    steps = step_table(records_frame(records), [5, 10], 2.0)
    assert {"offered_rps", "achieved_rps", "p50_ms", "p95_ms", "p99_ms", "error_rate"} <= set(steps.columns)
    assert steps["offered_rps"].tolist() == [5.0, 10.0]
    assert steps["error_rate"].tolist() == [0.0, 0.25]
    assert steps["p50_ms"].iloc[0] == pytest.approx(100, rel=0.01)
    assert steps["server_errors"].tolist() == [0, 5]


def test_jsonable_replaces_nan_and_infinity():
    assert jsonable({"a": [1.0, float("nan")], "b": float("inf"), "c": "x"}) == {"a": [1.0, None], "b": None, "c": "x"}
