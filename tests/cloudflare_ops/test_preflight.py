"""Preflight: the token and its permissions in plain words; the event against the plan's daily limits."""
from __future__ import annotations

import pytest
from pydantic import SecretStr

from gateway_ops.cloudflare import preflight
from gateway_ops.cloudflare.errors import CloudflareNetworkError, PreflightError

from .fake_cloudflare import ACCOUNT


def by_name(checks):
    return {c.name: c for c in checks}


def test_a_good_token_passes_every_check_with_read_only_requests(fake, client):
    checks = preflight.check_token(client, ACCOUNT)
    assert [c.name for c in checks] == ["API token valid", "permission: Workers Scripts Edit",
                                        "permission: Workers KV Storage Edit", "permission: D1 Edit"]
    assert all(c.passed for c in checks)
    assert {r.method for r in fake.requests} == {"GET"}
    preflight.require_token(checks, ACCOUNT)  # does not raise


@pytest.mark.parametrize("denied, sentence", [
    ({"kv"}, "The API token lacks Workers KV Storage Edit: add it to the token"),
    ({"d1", "workers"}, "The API token lacks Workers Scripts Edit and D1 Edit: add them to the token"),
])
def test_missing_permissions_are_named_as_the_dashboard_names_them(fake, client, denied, sentence):
    fake.denied |= denied
    checks = preflight.check_token(client, ACCOUNT)
    assert sorted(preflight.missing_permissions(checks)) == sorted(
        {"kv": "Workers KV Storage Edit", "d1": "D1 Edit", "workers": "Workers Scripts Edit"}[d] for d in denied)
    with pytest.raises(PreflightError) as caught:
        preflight.require_token(checks, ACCOUNT)
    assert str(caught.value).startswith(sentence) and "\n" not in str(caught.value)


def test_a_token_that_cannot_see_the_account_points_at_the_account_id(fake, cf_settings):
    from gateway_ops.cloudflare_api import make_client

    client = make_client(cf_settings.model_copy(update={"CLOUDFLARE_ACCOUNT_ID": "f" * 32}), fake.http_client())
    checks = preflight.check_token(client, "f" * 32)
    with pytest.raises(PreflightError, match=f"cannot use account {'f' * 32}: check that CLOUDFLARE_ACCOUNT_ID"):
        preflight.require_token(checks, "f" * 32)


def test_an_invalid_token_is_one_check_and_one_sentence(fake, cf_settings):
    from gateway_ops.cloudflare_api import make_client

    client = make_client(cf_settings.model_copy(update={"CLOUDFLARE_API_TOKEN": SecretStr("wrong")}), fake.http_client())
    checks = preflight.check_token(client, ACCOUNT)
    assert [(c.name, c.passed) for c in checks] == [("API token valid", False)]
    with pytest.raises(PreflightError, match="The API token is not usable .* put it in CLOUDFLARE_API_TOKEN"):
        preflight.require_token(checks, ACCOUNT)


def test_an_expired_token_fails_the_first_check(fake, client):
    fake.token_status = "expired"
    checks = preflight.check_token(client, ACCOUNT)
    assert [(c.observed, c.passed) for c in checks] == [("expired", False)]


def test_an_account_owned_token_verifies_at_the_account_endpoint(fake, client):
    fake.token_kind = "account"
    checks = preflight.check_token(client, ACCOUNT)
    assert all(c.passed for c in checks)
    assert [r.path for r in fake.requests[:2]] == ["/user/tokens/verify", f"/accounts/{ACCOUNT}/tokens/verify"]


def test_no_network_is_an_error_not_a_failed_check(fake, client):
    import httpx

    fake.inject("GET", r"/user/tokens/verify$", httpx.ConnectError("Name or service not known"), times=2)
    with pytest.raises(CloudflareNetworkError, match=r"Could not reach Cloudflare's API \(api.cloudflare.com\) while verifying the API token"):
        preflight.check_token(client, ACCOUNT)


# --- plan limits --------------------------------------------------------------------------------

def test_a_small_workshop_fits_the_free_plan():
    checks = preflight.plan_checks(preflight.EventPlan(attendees=50, requests_per_minute=2, hours=3))
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert by_name(checks)["Workers requests/day"].observed.startswith("18,000 (18% of the limit)")


def test_d1_rows_written_is_the_first_limit_a_busy_event_hits():
    checks = by_name(preflight.plan_checks(preflight.EventPlan(attendees=100, requests_per_minute=2, hours=3)))
    d1 = checks["D1 rows written/day (row + 2 index entries per request)"]
    # 36,000 requests × 3 rows, plus 50 admin changes × 3 rows (published copy, audit row, its counter)
    assert not d1.passed and d1.observed == "108,150 (108% of the limit): exhausted after about 2.8 h"
    assert checks["Workers requests/day"].passed  # 36,000 requests: only the log's writes do not fit


def test_codex_mode_doubles_kv_reads_and_writes_one_token_per_attendee():
    openai = preflight.estimate_usage(preflight.EventPlan(attendees=40, requests_per_minute=10, hours=2))
    codex = preflight.estimate_usage(preflight.EventPlan(attendees=40, requests_per_minute=10, hours=2,
                                                         auth_mode="codex"))
    assert codex["kv_reads_per_day"] == 2 * openai["kv_reads_per_day"] == 96_000
    assert (openai["kv_writes_per_day"], codex["kv_writes_per_day"]) == (0, 40)
    big = by_name(preflight.plan_checks(preflight.EventPlan(attendees=1200, requests_per_minute=0.01, hours=1,
                                                            auth_mode="codex")))
    assert not big["KV writes/day (oauth:{user} tokens in codex mode)"].passed


def test_a_rate_above_the_gateway_limit_warns_about_429s():
    check = preflight.plan_checks(preflight.EventPlan(attendees=2, requests_per_minute=60, hours=0.1))[-1]
    assert not check.passed and "requests beyond 50 each minute get 429" in check.observed


def test_dashboards_that_reread_the_whole_log_can_exhaust_d1_reads():
    plan = preflight.EventPlan(attendees=60, requests_per_minute=2, hours=3, dashboard_full_reads_per_minute=6)
    reads = by_name(preflight.plan_checks(plan))[preflight.LABELS["d1_rows_read_per_day"]]
    assert not reads.passed  # 6 × 120/min × 180² / 2 ≈ 11.7 M rows


def test_max_attendees_is_the_largest_event_that_still_fits():
    plan = preflight.EventPlan(attendees=10, requests_per_minute=2, hours=3)
    most = preflight.max_attendees(plan)
    assert most == 92  # 100,000 D1 rows / (3 × 2 × 180) per attendee
    from dataclasses import replace

    assert all(c.passed for c in preflight.plan_checks(replace(plan, attendees=most))[:-1])
    assert not all(c.passed for c in preflight.plan_checks(replace(plan, attendees=most + 1))[:-1])


@pytest.mark.parametrize("kwargs", [dict(attendees=0, requests_per_minute=1, hours=1),
                                    dict(attendees=5, requests_per_minute=0, hours=1),
                                    dict(attendees=5, requests_per_minute=1, hours=1, auth_mode="byok")])
def test_nonsense_plans_are_refused_in_one_sentence(kwargs):
    with pytest.raises(PreflightError):
        preflight.EventPlan(**kwargs)


def test_preflight_combines_token_and_plan_checks(client):
    checks = preflight.preflight(client, ACCOUNT, preflight.EventPlan(attendees=10, requests_per_minute=1, hours=1))
    assert len(checks) == 4 + 9 and all(c.passed for c in checks)


def test_the_gate_adds_acquire_release_and_a_renewal_per_ten_seconds_of_answer():
    assert [preflight.gate_calls_per_request(s) for s in (0, 2.5, 9.9, 10, 25)] == [2, 2, 2, 3, 4]
    plan = preflight.EventPlan(attendees=30, requests_per_minute=2, hours=3)
    gated = preflight.EventPlan(attendees=30, requests_per_minute=2, hours=3, gate=True, answer_seconds=12)
    usage, gated_usage = preflight.estimate_usage(plan), preflight.estimate_usage(gated)
    # 3 calls per request, and the dashboard's status reads (12 a minute: one per 5 s refresh) ask the gate too
    assert gated_usage["durable_object_requests_per_day"] == (usage["durable_object_requests_per_day"] + 3 * plan.requests
                                                              + 12 * 180)
    assert gated_usage["worker_requests_per_day"] == usage["worker_requests_per_day"]


def test_with_the_gate_an_event_that_fitted_exceeds_the_durable_object_allowance():
    plan = preflight.EventPlan(attendees=30, requests_per_minute=4, hours=3)  # 21,600 requests
    assert all(c.passed for c in preflight.plan_checks(plan))
    # long streams (25 s): acquire + release + 2 renewals = 4 more calls each, 108,000 in all
    gated = preflight.EventPlan(attendees=30, requests_per_minute=4, hours=3, gate=True, answer_seconds=25)
    failed = [c.name for c in preflight.plan_checks(gated) if not c.passed]
    assert failed == [preflight.LABELS["durable_object_requests_per_day"],
                      preflight.LABELS["durable_object_rows_written_per_day"]]
    assert preflight.max_attendees(gated) < preflight.max_attendees(plan)


# --- the event controls -------------------------------------------------------------------------

def test_requests_read_the_controls_from_d1_at_most_once_per_busy_isolate_per_second_never_the_object():
    quiet = preflight.EventPlan(attendees=50, requests_per_minute=2, hours=3)  # 18,000 requests: ~every one reads
    busy = preflight.EventPlan(attendees=1000, requests_per_minute=10, hours=3, isolates=4)  # 1.8 M requests
    assert preflight.controls_reads(quiet) == quiet.requests == 18_000
    assert preflight.controls_reads(busy) == 4 * 3 * 3600 == 43_200
    more_isolates = preflight.estimate_usage(preflight.EventPlan(attendees=1000, requests_per_minute=10, hours=3,
                                                                 isolates=40))
    fewer = preflight.estimate_usage(busy)
    assert more_isolates["d1_rows_read_per_day"] - fewer["d1_rows_read_per_day"] == 36 * 3 * 3600
    # The controls add no Durable Object request per request, however many isolates read them.
    assert more_isolates["durable_object_requests_per_day"] == fewer["durable_object_requests_per_day"]
    assert fewer["durable_object_requests_per_day"] == busy.requests + 50 * 2 + 12 * 180


def test_admin_changes_and_dashboard_status_reads_are_counted():
    from dataclasses import replace

    plan = preflight.EventPlan(attendees=30, requests_per_minute=2, hours=3)
    none = preflight.estimate_usage(replace(plan, admin_changes=0, dashboards=0))
    busy = preflight.estimate_usage(replace(plan, admin_changes=100, dashboards=2))
    assert none["durable_object_requests_per_day"] == 10_800  # the limiter's call per request, nothing else
    assert busy["durable_object_requests_per_day"] - none["durable_object_requests_per_day"] == 100 * 2 + 2 * 12 * 180
    assert busy["d1_rows_written_per_day"] - none["d1_rows_written_per_day"] == 100 * 3
    assert busy["d1_rows_read_per_day"] - none["d1_rows_read_per_day"] == 100 * 2 + 2 * 12 * 180
    with pytest.raises(PreflightError, match="isolates must be at least 1"):
        replace(plan, isolates=0)
