"""The controls against the real local stack (Worker in workerd + simulated origin): each control
takes effect, and each check is also shown failing when the control is off.

One stack for the module (with USER_KEY_SECRET, for reissue and revoke); every test starts and ends
with every control off.
"""
from __future__ import annotations

import os
import stat

import httpx
import pytest
from typer.testing import CliRunner

from conftest import start_stack
from gateway_ops import cli
from gateway_ops.client import Credentials
from gateway_ops.controls.client import AdminClient
from gateway_ops.controls.errors import AdminAuthError, AdminUnavailableError
from gateway_ops.controls.probe import Prober, check_budget, check_cap, check_limit, check_maintenance, check_models
from gateway_ops.dashboards.origins import admin_views
from gateway_ops.controls.token import read_local_token
from gateway_ops.keys import user_key
from gateway_ops.settings import Settings
from helpers import CLIENT_KEY, MODEL, client_headers, fresh_user, wait_until

pytestmark = pytest.mark.stack
SECRET = "controls-test-secret-7Hq"
OFF = {"maintenance": {"on": False, "message": None}, "limit_per_minute": None, "models": None, "max_tokens": None,
       "budget": None}
runner = CliRunner()


@pytest.fixture(scope="module")
def controlled(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("controls-state"), worker_settings={"USER_KEY_SECRET": SECRET})
    yield running
    running.stop()


@pytest.fixture
def admin(controlled):
    client = AdminClient(controlled.url, read_local_token(controlled.state_dir))
    _all_off(client)
    yield client
    _all_off(client)
    client.close()


def _all_off(client: AdminClient) -> None:
    try:
        client.change(OFF)
    except AdminUnavailableError:
        pass  # a Worker without the event controls: nothing to reset


@pytest.fixture
def prober(controlled):
    client = Prober(controlled.url, credentials=Credentials(key_secret=SECRET, api_key=CLIENT_KEY), model=MODEL)
    yield client
    client.close()


@pytest.fixture
def env(controlled, monkeypatch):
    monkeypatch.setenv("GATEWAY_URL", controlled.url)
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(controlled.state_dir))
    monkeypatch.setenv("GATEWAY_TARGET", "local")
    monkeypatch.setenv("USER_KEY_SECRET", SECRET)
    monkeypatch.delenv("ADMIN_TOKEN", raising=False)
    return controlled


# --- the admin token and the admin API base (issue 13) --------------------------------------------


def test_the_stack_generates_an_owner_only_token_and_the_worker_accepts_it(controlled, admin):
    path = controlled.state_dir / "admin_token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_local_token(controlled.state_dir) == controlled.admin_token
    assert "origins" in admin.status()


def test_a_wrong_token_is_refused(controlled):
    with pytest.raises(AdminAuthError, match="refused the admin token"):
        AdminClient(controlled.url, "not-the-token").status()


def test_a_stack_without_an_admin_token_has_no_admin_api(tmp_path, make_stack):
    bare = make_stack(tmp_path, admin_token=False)
    assert not (tmp_path / "admin_token").exists()
    with pytest.raises(AdminUnavailableError, match="has no admin API"):
        AdminClient(bare.url, "anything").status()


def test_control_status_finds_the_local_token_by_itself(env):
    result = runner.invoke(cli.app, ["control", "status"])
    assert result.exit_code == 0, result.output
    assert "Origin gate: off" in result.output and "origin 0 127.0.0.1:" in result.output
    assert env.admin_token not in result.output


def test_the_dashboard_line_says_unknown_without_a_token(env, tmp_path):
    settings = Settings(_env_file=None, GATEWAY_URL=env.url, GATEWAY_STATE_DIR=tmp_path)
    assert admin_views(settings, "local")[1]() == "controls: unknown (no admin token)"


# --- the controls (the Worker side) --------------------------------------------------------------


def test_the_dashboard_line_shows_the_active_controls(env, admin):
    admin.change({"max_tokens": 64})
    line = admin_views(Settings(_env_file=None, GATEWAY_URL=env.url, GATEWAY_STATE_DIR=env.state_dir), "local")[1]()
    assert line == "controls: max_tokens ≤ 64"


def test_maintenance_answers_503_with_the_message_then_normal_again(env, admin, prober):
    assert check_maintenance(prober, "back at 10:15").check.passed is False  # off: the check fails
    result = runner.invoke(cli.app, ["control", "maintenance", "on", "--message", "back at 10:15"])
    assert result.exit_code == 0, result.output
    step = check_maintenance(prober, "back at 10:15")
    assert step.check.passed, step.describe()
    health = httpx.get(f"{env.url}/health").json()
    assert health.get("maintenance") is True
    runner.invoke(cli.app, ["control", "maintenance", "off"])
    assert wait_until(lambda: prober.send().status == 200, timeout=3)


def test_the_shared_limit_applies_at_once(admin, prober):
    assert not check_limit(prober, 2).check.passed  # RATE_LIMIT_PER_MINUTE (50) admits the third
    admin.change({"limit_per_minute": 2})
    step = check_limit(prober, 2)
    assert step.check.passed, step.check


def test_other_models_get_403_naming_the_allowed_ones(admin, prober):
    assert not check_models(prober, MODEL).check.passed
    admin.change({"models": [MODEL]})
    step = check_models(prober, MODEL)
    assert step.check.passed, step.check


def test_the_origin_never_sees_more_than_the_cap(controlled, admin, prober):
    assert not check_cap(prober, 4).check.passed  # no cap: the answer has the profile's 16 tokens
    admin.change({"max_tokens": 4})
    assert check_cap(prober, 4).check.passed
    prober.send()  # no max_tokens at all: the gateway adds the cap
    seen = httpx.get(f"{controlled.origin_url}/_origin/requests", params={"last": 2}).json()
    assert [r["json"].get("max_tokens", r["json"].get("max_completion_tokens")) for r in seen] == [4, 4]


def test_a_spent_budget_gets_429(admin, prober):
    admin.change({"budget": {"tokens": 1, "per": "event"}})
    step = check_budget(prober, 1)
    assert step.check.passed, step.check
    admin.change({"budget": None})
    assert not check_budget(prober, 1, timeout=2).check.passed  # no budget: never refused


def test_tier_through_the_admin_api_blocks_at_once(env, admin, prober):
    user = fresh_user("tier")
    result = runner.invoke(cli.app, ["attendees", "tier", user, "0"])
    assert result.exit_code == 0 and "via the admin API" in result.output, result.output
    assert prober.send(user).status == 403
    runner.invoke(cli.app, ["attendees", "untier", user])
    assert prober.send(user).status == 200


def test_reissue_and_revoke_touch_only_that_user(env, admin, prober):
    alice, bob = fresh_user("alice"), fresh_user("bob")
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}

    def status(user: str, key: str) -> int:
        return httpx.post(f"{env.url}/v1/chat/completions", json=chat, timeout=30,
                          headers=client_headers(user, **{"X-User-Key": key})).status_code

    old = user_key(SECRET, alice)
    assert status(alice, old) == 200
    result = runner.invoke(cli.app, ["attendees", "reissue", alice])
    assert result.exit_code == 0, result.output
    user, new = result.stdout.strip().split(",")
    assert user == alice and new == user_key(SECRET, alice, 1)
    assert (status(alice, old), status(alice, new), status(bob, user_key(SECRET, bob))) == (401, 200, 200)
    assert runner.invoke(cli.app, ["attendees", "revoke", alice]).exit_code == 0
    assert (status(alice, new), status(bob, user_key(SECRET, bob))) == (401, 200)


def test_the_report_shows_the_interventions_the_worker_recorded(controlled, admin, tmp_path):
    from gateway_ops.accesslog import LocalAccessLog
    from gateway_ops.dashboards.report import write_report

    user = fresh_user("tiered")
    admin.change({"limit_per_minute": 7})
    admin.set_tier(user, 0)
    text = write_report(LocalAccessLog(controlled.state_dir), tmp_path / "report.html").path.read_text()
    assert "Interventions" in text and "7 requests/min" in text and f"{user}</td>" in text
    assert controlled.admin_token not in text and SECRET not in text
