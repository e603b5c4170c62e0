"""Tiers and tokens on the real local stack: the running Worker honours them on the next request."""
from __future__ import annotations

import json

import httpx
import pytest

from gateway_ops.attendees import (AttendeeError, LocalKV, TokenLoan, clear_tiers, list_tiers, load_tokens_csv,
                                   revoke_token, set_tiers, store_tokens, users_without_token)
from gateway_ops.loadtest import RateLimitPlan, run_rate_limit_check
from gateway_ops.smoke import run_smoke
from helpers import CODEX_TOKEN, MODEL, client_headers, fresh_user


def statuses(url, user, n, **headers):
    return [httpx.get(f"{url}/v1/models", headers=client_headers(user, **headers)).status_code for _ in range(n)]


def test_a_tier_change_is_honoured_on_the_next_request_and_0_blocks(stack, minute_guard):
    store = LocalKV(stack.state_dir)
    vip, banned = fresh_user("vip"), fresh_user("banned")
    set_tiers(store, {vip: 2, banned: 0})
    minute_guard()
    assert statuses(stack.url, vip, 3) == [200, 200, 429]
    assert statuses(stack.url, banned, 1) == [403]
    overrides = list_tiers(store).set_index("user_id")
    assert overrides.loc[vip, "limit_per_minute"] == 2 and overrides.loc[banned, "blocked"]
    clear_tiers(store, [banned])
    assert statuses(stack.url, banned, 1) == [200]
    assert banned not in set(list_tiers(store)["user_id"])


def test_bad_tiers_are_refused_before_anything_is_written(stack):
    store = LocalKV(stack.state_dir)
    user = fresh_user("att")
    with pytest.raises(AttendeeError, match="whole number"):
        set_tiers(store, {user: "10", "other": "-1"})
    with pytest.raises(AttendeeError, match="not a valid user id"):
        set_tiers(store, {"bad id": 5})
    assert user not in set(list_tiers(store)["user_id"])


def test_codex_tokens_load_list_and_revoke(make_stack, tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_CODEX_TOKEN", CODEX_TOKEN)  # the codex stack's strict origin requires it
    with make_stack(tmp_path / "state", worker_settings={"AUTH_MODE": "codex"}) as codex:
        store = LocalKV(codex.state_dir)
        tokens_csv = tmp_path / "tokens.csv"
        tokens_csv.write_text(f"user_id,token\nalice,{CODEX_TOKEN}\n")
        assert store_tokens(store, load_tokens_csv(tokens_csv)) == 1
        assert users_without_token(store, ["alice", "bob"]) == ["bob"]
        with_token = {c.name: c for c in run_smoke(codex.url, codex_log(codex), user_id="alice")}
        without = {c.name: c for c in run_smoke(codex.url, codex_log(codex), user_id="bob")}
        assert all(c.passed for c in with_token.values())
        refused = without["chat completion"]
        assert not refused.passed and "refused the request (401" in refused.observed
        assert "No OAuth token is on file for user bob" in refused.observed
        revoke_token(store, "alice")
        assert statuses(codex.url, "alice", 1) == [401]
        received = httpx.get(f"{codex.origin_url}/_origin/requests").json()
        # alice's token from KV reached the origin, which accepted it (and records it redacted)
        assert any(r["headers"].get("x-codex-token") == "[redacted]" for r in received)
        assert CODEX_TOKEN not in json.dumps(received)

        # The load tests lend their temporary users the token for the run, then take it back.
        log = codex_log(codex)
        plan = RateLimitPlan(users=2, requests_per_user=3, check_next_window=False, model=MODEL)
        lent = run_rate_limit_check(codex.url, log, plan, loan=TokenLoan(store, CODEX_TOKEN), progress=False)
        assert lent.passed, [c for c in lent.checks if not c.passed]
        assert store.list_keys("oauth:") == []  # alice was revoked above: no token is left behind
        unlent = run_rate_limit_check(codex.url, log, plan, progress=False)
        [failed] = [c for c in unlent.checks if not c.passed]
        assert failed.observed.startswith("6 of 6 answered 401: the gateway refused the request (401: No OAuth token")


def codex_log(stack):
    from gateway_ops.accesslog import LocalAccessLog

    return LocalAccessLog(stack.state_dir)


@pytest.mark.parametrize("content, message", [
    ("user,token\na,b\n", "needs the columns user_id,token"),
    ("user_id,token\nbad id,t\n", "line 2: 'bad id' is not a valid user id"),
    ("user_id,token\na,\n", "line 2: the token for a is empty"),
    ("user_id,token\na,t1\na,t2\n", "line 3: a appears twice"),
    ("user_id,token\n", "has no tokens"),
])
def test_token_files_are_checked_line_by_line_without_echoing_tokens(tmp_path, content, message):
    path = tmp_path / "tokens.csv"
    path.write_text(content)
    with pytest.raises(AttendeeError, match=message) as caught:
        load_tokens_csv(path)
    assert "t1" not in str(caught.value) and "t2" not in str(caught.value)
