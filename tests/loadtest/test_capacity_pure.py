"""The knee and the recommendation table, on constructed steps."""
import math

import pandas as pd
import pytest

from gateway_ops.loadtest.capacity import (
    SweepPlan,
    Thresholds,
    find_knee,
    max_attendees,
    parse_rates,
    rates_for_attendees,
    recommendation_table,
    recommendations,
    sweep_checks,
)
from gateway_ops.loadtest.errors import LoadTestError

T = Thresholds(p95_ms=500, error_rate=0.01)


def step(rate, p95, errors=0.0):
    return {"offered_rps": rate, "p95_ms": p95, "error_rate": errors}


def test_the_knee_is_the_last_step_under_both_thresholds():
    assert find_knee([step(5, 210), step(10, 220), step(15, 240), step(25, 700), step(40, 2500)], T) == 15


def test_errors_alone_end_the_knee():
    assert find_knee([step(5, 100), step(10, 100, errors=0.05)], T) == 5


def test_a_noisy_pass_above_a_failure_does_not_count():
    assert find_knee([step(5, 100), step(10, 900), step(15, 300)], T) == 5


def test_no_knee_when_the_lowest_step_fails_or_measured_nothing():
    assert find_knee([step(5, 900), step(10, 100)], T) is None
    assert find_knee([step(5, math.nan)], T) is None
    assert find_knee([], T) is None


def test_steps_are_sorted_by_offered_rate():
    assert find_knee([step(15, 240), step(5, 100), step(10, 200)], T) == 15


def test_recommendations_compare_the_worst_case_load_with_the_knee():
    table = recommendations(20.0, limits=[10, 50], attendees=[60, 120])
    row = table[(table.per_user_limit == 10) & (table.attendees == 120)].iloc[0]
    assert row.peak_rps == 20.0 and row.share_of_knee == 1.0 and row.holds
    row = table[(table.per_user_limit == 50) & (table.attendees == 60)].iloc[0]
    assert row.peak_rps == 50.0 and not row.holds
    assert max_attendees(20.0, 10) == 120 and max_attendees(20.0, 50) == 24


def test_recommendation_table_reads_as_limits_by_attendees():
    table = recommendation_table(20.0, limits=[10, 50], attendees=[60, 120])
    assert list(table.columns) == ["max attendees", "60 attendees", "120 attendees"]
    assert table.loc[10, "max attendees"] == 120
    assert table.loc[10, "120 attendees"].startswith("✓") and table.loc[50, "60 attendees"].startswith("✗")
    assert (recommendation_table(None, [10], [25])["max attendees"] == 0).all()


def test_rates_from_attendees_and_from_text():
    assert rates_for_attendees([30, 60], per_user_rpm=10) == [5.0, 10.0]
    assert parse_rates("2, 4,8") == [2.0, 4.0, 8.0]
    for bad in ("", "2,x", "0,1", "-1"):
        with pytest.raises(LoadTestError, match="Rates must be"):
            parse_rates(bad)


@pytest.mark.parametrize("options, message", [
    ({"rates": ()}, "at least one rate"),
    ({"rates": (10, 5)}, "increasing order"),
    ({"rates": (0.2,), "step_s": 2}, "at least one request"),
    ({"step_s": 0}, "step duration"),
])
def test_bad_sweep_plans_are_one_sentence(options, message):
    with pytest.raises(LoadTestError, match=message):
        SweepPlan(**options)


def test_bad_thresholds_are_refused():
    with pytest.raises(LoadTestError):
        Thresholds(p95_ms=0)
    with pytest.raises(LoadTestError):
        Thresholds(error_rate=1.5)


def test_sweep_checks_fail_without_a_knee_with_429s_or_with_a_late_engine():
    plan = SweepPlan(rates=(5.0,), max_send_lag_ms=50)
    good = pd.DataFrame([{"rate_limited": 0, "send_lag_p99_ms": 3.0}])
    assert all(c.passed for c in sweep_checks(good, 5.0, plan))
    assert [c.passed for c in sweep_checks(good, None, plan)] == [False, True, True]
    limited = good.assign(rate_limited=2)
    assert [c.passed for c in sweep_checks(limited, 5.0, plan)] == [True, False, True]
    late = good.assign(send_lag_p99_ms=80.0)
    assert [c.passed for c in sweep_checks(late, 5.0, plan)] == [True, True, False]
