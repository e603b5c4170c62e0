"""The rate-limit check's window timing and its judgement, on constructed records: each check
passes on a gateway that keeps its promise and fails when that promise is broken."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from gateway_ops.loadtest.errors import LoadTestError
from gateway_ops.loadtest.ratelimit import (
    RateLimitPlan,
    judge,
    limit_message,
    window_needed_s,
)
from gateway_ops.loadtest.records import Record, records_frame
from gateway_ops.minute_window import wait_before_start, wait_for_window

WALL_T0 = 1_795_858_500.0  # 09:35:00 UTC: a minute boundary
RESET = 1_795_858_560  # the end of that minute
PLAN = RateLimitPlan(users=2, requests_per_user=5, expected_limit=3, check_next_window=True)


def test_a_burst_that_fits_starts_now_and_one_that_does_not_waits_for_the_next_minute():
    assert wait_before_start(WALL_T0 + 10, needed_s=20) == 0
    assert wait_before_start(WALL_T0 + 45, needed_s=20) == pytest.approx(15.5)  # 0.5 s past the boundary
    assert wait_before_start(WALL_T0 + 59.9, needed_s=1) == pytest.approx(0.6)
    assert wait_for_window(WALL_T0 + 50, RESET) == pytest.approx(10.5)
    assert wait_for_window(RESET + 3, RESET) == 0


def test_the_window_arithmetic_imports_no_pandas():
    """Tests and benches wait out a minute with it without paying for pandas (or the load-test package)."""
    code = "import sys, gateway_ops.minute_window; print(sorted(m for m in ('pandas', 'gateway_ops.loadtest') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_window_needed_is_the_burst_at_the_assumed_rate_or_the_spread():
    assert window_needed_s(RateLimitPlan(users=10, requests_per_user=60, assumed_rps=100, margin_s=3)) == 9
    assert window_needed_s(RateLimitPlan(mode="spread", spread_s=12, margin_s=3)) == 15


def test_a_plan_that_cannot_fit_in_a_minute_is_refused_before_sending():
    with pytest.raises(LoadTestError, match="more than fits in one UTC minute"):
        RateLimitPlan(users=100, requests_per_user=100)
    with pytest.raises(LoadTestError, match="burst' or 'spread"):
        RateLimitPlan(mode="trickle")  # type: ignore[arg-type]  # the wrong mode is the point


def gateway(plan=PLAN, limit=None, reset=RESET, retry=True, body=None, remaining_override=None):
    """Records of a gateway enforcing ``limit`` (default: the plan's) on each user's burst."""
    limit = plan.expected_limit if limit is None else limit
    records, i = [], 0
    for user in ("u1", "u2")[: plan.users]:
        for n in range(plan.requests_per_user):
            ok = n < limit
            record = Record(i, 0, user, 0.0, start_s=0.01 * i, end_s=0.01 * i + 0.005, status=200 if ok else 429,
                            request_id=f"req-{i}", rl_limit=str(limit), rl_reset=str(reset),
                            rl_remaining=str(max(0, limit - n - 1)) if ok else "0")
            if not ok:
                record.retry_after = str(reset - int(WALL_T0)) if retry else ""
                record.body = body if body is not None else limit_message(limit)
            if remaining_override is not None and i == 0:
                record.rl_remaining = remaining_override
            records.append(record)
            i += 1
    return records_frame(records, WALL_T0)


def next_window(status=200, remaining=None, reset=RESET + 60, users=("u1", "u2")):
    records = [Record(100 + k, 0, user, 0.0, start_s=61.0, end_s=61.01, status=status, request_id=f"next-{k}",
                      rl_limit="3", rl_reset=str(reset),
                      rl_remaining=str(PLAN.expected_limit - 1 if remaining is None else remaining))
               for k, user in enumerate(users)]
    return records_frame(records, WALL_T0)


def log_of(*frames):
    sent = pd.concat(frames, ignore_index=True)
    return sent[["request_id", "user_id", "status"]].copy()


def verdict(burst, again, rows, plan=PLAN):
    _, checks = judge(burst, again, rows, plan)
    return {c.name: c.passed for c in checks}


def failing(burst, again, rows, plan=PLAN):
    return sorted(name for name, passed in verdict(burst, again, rows, plan).items() if not passed)


def test_a_gateway_that_keeps_its_limit_passes_every_check():
    burst, again = gateway(), next_window()
    per_user, checks = judge(burst, again, log_of(burst, again), PLAN)
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert len(checks) == 9
    assert per_user[["user_id", "accepted", "rejected_429", "origin_errors", "other"]].values.tolist() == [
        ["u1", 3, 2, 0, 0], ["u2", 3, 2, 0, 0]]


def test_a_higher_limit_than_expected_fails_the_count_the_rejections_and_the_headers():
    burst = gateway(limit=4)
    assert failing(burst, None, log_of(burst)) == [
        "X-RateLimit-* headers consistent",
        "accepted == min(requests, limit) per user",
        "every rejection is a 429 with the limit's message",
    ]


def test_rejections_without_retry_after_fail():
    burst = gateway(retry=False)
    assert failing(burst, None, log_of(burst)) == ["429s carry Retry-After agreeing with the reset"]


def test_a_429_with_another_body_fails():
    burst = gateway(body=json.dumps({"error": "slow down"}))
    assert failing(burst, None, log_of(burst)) == ["every rejection is a 429 with the limit's message"]


def test_a_remaining_count_that_does_not_count_down_fails():
    burst = gateway(remaining_override="2")  # the first answer should say 2, the second says 1 …
    burst.loc[1, "rl_remaining"] = "2"
    assert failing(burst, None, log_of(burst)) == ["X-RateLimit-* headers consistent"]


def test_a_reset_that_is_not_the_end_of_the_minute_fails():
    burst = gateway(reset=RESET + 120)
    assert "X-RateLimit-* headers consistent" in failing(burst, None, log_of(burst))


def test_a_burst_split_by_a_window_boundary_fails():
    burst = gateway()
    burst.loc[burst.index[-1], "rl_reset"] = str(RESET + 60)
    assert "each user's requests in one UTC minute" in failing(burst, None, log_of(burst))


def test_a_transport_error_fails_the_answers_and_the_count():
    burst = gateway()
    burst.loc[0, ["status", "ok", "error", "rl_limit", "rl_remaining", "rl_reset"]] = [0, False, "timeout", "", "", ""]
    assert {"every request answered by the gateway", "accepted == min(requests, limit) per user"} <= set(
        failing(burst, None, log_of(burst)))


def test_a_refusal_before_the_limiter_is_not_an_acceptance():
    burst = gateway()
    burst.loc[0, ["status", "ok", "rl_limit", "rl_remaining", "rl_reset"]] = [502, False, "", "", ""]
    assert "accepted == min(requests, limit) per user" in failing(burst, None, log_of(burst))


def test_an_overloaded_origin_behind_a_holding_limit_still_passes():
    """Admitted requests the origin answers 503 (a burst on a small origin) were still counted
    by the limiter: the limit held, and the per-user table shows the origin's errors apart."""
    burst = gateway()
    burst.loc[[0, 1], ["status", "ok", "server_error"]] = [503, False, True]
    per_user, checks = judge(burst, None, log_of(burst), PLAN)
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert per_user["origin_errors"].tolist() == [2, 0] and per_user["accepted"].tolist() == [3, 3]


ORIGIN_401 = json.dumps({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                   "param": None, "code": "invalid_api_key"}})
MODEL_404 = json.dumps({"error": {"message": "The model 'm' does not exist.", "type": "invalid_request_error",
                                  "param": "model", "code": "model_not_found"}})


def refused(burst, status, body, rows=None):
    """``burst`` with the admitted requests in ``rows`` (default: all) answered ``status`` by the origin."""
    admitted = burst.index[burst["status"] == 200] if rows is None else rows
    burst.loc[admitted, ["status", "ok", "server_error", "body"]] = [status, False, status >= 500, body]
    return burst


@pytest.mark.parametrize("status, body, cause", [
    (401, ORIGIN_401, "the origin refused the key (401 invalid_api_key: Incorrect API key provided.)"),
    (404, MODEL_404, "the origin does not know the model 'm' (404 model_not_found"),
    (502, '{"error":"The origin could not be reached."}', "the origin cannot be reached (502: The origin could not"),
    (500, '{"error":{"message":"boom","type":"server_error","param":null,"code":null}}', "the origin failed (500"),
])
def test_a_limit_that_holds_while_the_origin_refuses_the_admitted_requests_fails_naming_the_cause(status, body, cause):
    """The limiter admitted exactly the limit, but no attendee got an answer: a broken event."""
    burst = refused(gateway(), status, body)
    plan = RateLimitPlan(users=2, requests_per_user=5, expected_limit=3, check_next_window=False, model="m")
    _, checks = judge(burst, None, log_of(burst), plan)
    failed = [c for c in checks if not c.passed]
    assert [c.name for c in failed] == ["the origin served the admitted requests"]
    assert failed[0].observed.startswith(f"6 of 6 answered {status}: {cause}"), failed[0].observed


def test_one_refusal_is_enough_to_fail_but_busy_answers_are_not_unless_nothing_was_served():
    one = refused(gateway(), 401, ORIGIN_401, rows=[0])
    assert failing(one, None, log_of(one)) == ["the origin served the admitted requests"]
    busy = refused(gateway(), 503, '{"error":{"message":"busy","code":"origin_overloaded"}}', rows=[0, 1, 5])
    served = {c.name: c for c in judge(busy, None, log_of(busy), PLAN)[1]}["the origin served the admitted requests"]
    assert served.passed and served.observed == "3 of 6 served, 3 busy (503)"
    all_busy = refused(gateway(), 503, '{"error":{"message":"busy","code":"origin_overloaded"}}')
    assert failing(all_busy, None, log_of(all_busy)) == ["the origin served the admitted requests"]


def test_a_next_window_that_still_rejects_or_does_not_reset_fails():
    burst = gateway()
    for again in (next_window(status=429), next_window(remaining=0), next_window(reset=RESET), next_window(users=("u1",))):
        assert failing(burst, again, log_of(burst, again)) == ["next window admits again"]


def test_the_access_log_must_hold_exactly_one_matching_row_per_request():
    burst = gateway()
    rows = log_of(burst)
    name = "access log: one row per request, per user and status"
    assert failing(burst, None, rows.iloc[1:]) == [name]  # a missing row
    assert failing(burst, None, pd.concat([rows, rows.iloc[:1]])) == [name]  # a duplicate
    wrong_status = rows.assign(status=rows["status"].where(rows.index != 0, 500))
    assert failing(burst, None, wrong_status) == [name]
    stranger = pd.concat([rows, pd.DataFrame([{"request_id": "other", "user_id": "u1", "status": 200}])])
    assert failing(burst, None, stranger) == [name]
    assert failing(burst, None, pd.DataFrame()) == [name]  # nothing logged (e.g. an empty remote result)
