"""Schedules are absolute offsets computed up front: exact, evenly shared, never drifting."""
from itertools import pairwise

import pytest

from gateway_ops.loadtest.errors import LoadTestError
from gateway_ops.loadtest.schedule import (
    burst_schedule,
    constant_offsets,
    open_schedule,
    schedule_duration,
    spread_schedule,
    step_schedule,
    user_ids,
    users_needed,
)


def test_constant_offsets_are_i_over_rate_with_no_accumulated_error():
    offsets = constant_offsets(7, 100)
    assert len(offsets) == 700
    assert all(offset == i / 7 for i, offset in enumerate(offsets))  # computed, not summed


def test_constant_offsets_count_is_rate_times_duration():
    assert constant_offsets(10, 2.0) == pytest.approx([i / 10 for i in range(20)])
    assert len(constant_offsets(2.5, 2)) == 5
    assert constant_offsets(1, 0.5) == []


@pytest.mark.parametrize("rate, duration", [(0, 1), (-1, 1), (1, 0), (float("inf"), 1), (float("nan"), 1)])
def test_bad_rates_and_durations_are_one_sentence(rate, duration):
    with pytest.raises(LoadTestError, match="must be a positive number"):
        constant_offsets(rate, duration)


def test_user_ids_are_distinct_valid_and_free_of_like_wildcards():
    ids = user_ids("rl-abc", 12)
    assert len(set(ids)) == 12 and ids[0] == "rl-abc-u0001" and ids[-1] == "rl-abc-u0012"
    assert not any("_" in i or "%" in i for i in ids)


def test_users_needed_keeps_everyone_within_the_budget():
    assert users_needed(100, 40) == 3
    assert users_needed(0, 40) == 1
    with pytest.raises(LoadTestError):
        users_needed(10, 0)


def test_open_schedule_shares_users_round_robin():
    arrivals = open_schedule([0.0, 0.1, 0.2, 0.3, 0.4], ["a", "b"], step=3)
    assert [a.user_id for a in arrivals] == ["a", "b", "a", "b", "a"]
    assert {a.step for a in arrivals} == {3}
    with pytest.raises(LoadTestError):
        open_schedule([0.0], [])


def test_step_schedule_runs_steps_back_to_back():
    arrivals = step_schedule([2, 4], 1.0, ["a", "b", "c"])
    assert [a.step for a in arrivals] == [0, 0, 1, 1, 1, 1]
    assert [a.offset_s for a in arrivals] == pytest.approx([0, 0.5, 1.0, 1.25, 1.5, 1.75])
    assert [a.index for a in arrivals] == list(range(6))


def test_burst_is_due_at_once_and_interleaves_users():
    arrivals = burst_schedule(["a", "b", "c"], 3)
    assert {a.offset_s for a in arrivals} == {0.0}
    assert [a.user_id for a in arrivals][:6] == ["a", "b", "c", "a", "b", "c"]
    assert schedule_duration(arrivals) == 0.0


def test_spread_sends_each_user_evenly_within_the_spread():
    arrivals = spread_schedule(["a", "b"], 5, 10.0)
    assert [a.offset_s for a in arrivals] == sorted(a.offset_s for a in arrivals)
    for user in "ab":
        times = [a.offset_s for a in arrivals if a.user_id == user]
        assert len(times) == 5
        assert [t2 - t1 for t1, t2 in pairwise(times)] == pytest.approx([2.0] * 4)
    assert 0 <= schedule_duration(arrivals) < 10.0
    with pytest.raises(LoadTestError):
        spread_schedule(["a"], 5, 0)
