"""`gateway-ops control …`, `attendees tier|tiers|untier|reissue|revoke`: what each command sends and prints
(the admin API is the contract's stand-in; test_integration.py runs the real Worker)."""
from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from attendees.test_prepare import MemoryKV
from gateway_ops import cli
from gateway_ops.attendees import set_tiers, tier_listing
from gateway_ops.controls import client as client_module
from gateway_ops.keys import user_key

from .fake_admin import TOKEN, FakeAdmin

runner = CliRunner()


@pytest.fixture
def fake(monkeypatch, tmp_path):
    admin = FakeAdmin()

    def open_admin(settings, target=None, url=None, transport=None):
        admin.opened.append((target, url))
        return client_module.AdminClient(url or "http://gateway.test", TOKEN, transport=admin.transport())

    monkeypatch.setattr(client_module, "open_admin", open_admin)
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GATEWAY_RUNS_DIR", str(tmp_path / "runs"))
    return admin


def run(*args: str):
    return runner.invoke(cli.app, list(args))


@pytest.mark.parametrize("args, body", [
    (["maintenance", "on", "--message", "back at 10:15"], {"maintenance": {"on": True, "message": "back at 10:15"}}),
    (["maintenance", "on"], {"maintenance": {"on": True, "message": None}}),
    (["maintenance", "off"], {"maintenance": {"on": False, "message": None}}),
    (["limit", "20"], {"limit_per_minute": 20}),
    (["limit", "off"], {"limit_per_minute": None}),
    (["models", "allow", "gpt-a, gpt-b"], {"models": ["gpt-a", "gpt-b"]}),
    (["models", "any"], {"models": None}),
    (["max-tokens", "256"], {"max_tokens": 256}),
    (["max-tokens", "off"], {"max_tokens": None}),
    (["budget", "5000", "--per", "hour"], {"budget": {"tokens": 5000, "per": "hour"}}),
    (["budget", "20000", "--per", "event"], {"budget": {"tokens": 20000, "per": "event"}}),
    (["budget", "off"], {"budget": None}),
])
def test_each_control_command_sends_one_change(fake, args, body):
    result = run("control", *args)
    assert result.exit_code == 0, result.output
    assert fake.requests[-1] == ("PATCH", "/admin/controls", body)
    assert "In effect on every request within 2 s." in result.output


def test_the_output_shows_the_controls_now_in_force(fake):
    result = run("control", "maintenance", "on", "--message", "back at 10:15")
    assert result.output.splitlines()[0] == "controls: MAINTENANCE (back at 10:15)"


def test_url_and_target_reach_the_client(fake):
    run("control", "limit", "5", "--url", "http://127.0.0.1:9999", "--target", "local")
    assert fake.opened[-1] == ("local", "http://127.0.0.1:9999")


@pytest.mark.parametrize("args, message", [
    (["limit", "fifty"], "whole number of at least 0"),
    (["max-tokens", "0"], "at least 1"),
    (["budget", "100"], "--per hour or --per event"),
    (["budget", "100", "--per", "day"], "per hour or per event"),
    (["models", "allow", " , "], "at least one model"),
])
def test_malformed_values_fail_before_anything_is_sent(fake, args, message):
    result = run("control", *args)
    assert result.exit_code != 0 and message in result.output
    assert not fake.requests


def test_status_shows_controls_and_the_gate(fake):
    fake.controls["max_tokens"] = 128
    result = run("control", "status")
    assert result.exit_code == 0, result.output
    assert "max-tokens   128" in result.output and "maintenance  off" in result.output
    assert "origin 0 127.0.0.1:18789: in flight 0, waiting 0, healthy (up)" in result.output


def test_status_of_a_worker_without_controls_says_so(fake):
    fake.has_controls = False
    result = run("control", "status")
    assert result.exit_code == 0 and "has no event controls" in result.output


def test_a_missing_admin_api_is_one_line_and_exit_1(fake):
    fake.token = None
    result = run("control", "limit", "5")
    assert result.exit_code == 1 and result.output.startswith("Error: The gateway at http://gateway.test has no admin API")


def test_tier_goes_through_the_admin_api_at_once(fake):
    result = run("attendees", "tier", "alice", "0")
    assert result.exit_code == 0, result.output
    assert fake.tiers == {"alice": 0}
    assert result.output.strip() == "alice: blocked, via the admin API, in effect on their next request."


@pytest.fixture
def kv(monkeypatch):
    store = MemoryKV()
    monkeypatch.setattr(tier_listing, "open_kv", lambda settings, target=None: store)
    return store


def test_tiers_lists_the_admin_api_and_kv_with_the_source_of_each(fake, kv):
    set_tiers(kv, {"alice": 100, "bob": 5})
    assert run("attendees", "tier", "alice", "0").exit_code == 0
    result = run("attendees", "tiers")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["user_id", "limit_per_minute", "blocked", "source", "note"]
    assert lines[1].split()[:5] == ["alice", "0", "True", "admin", "API"] and "wins over KV 100" in lines[1]
    assert lines[2].split() == ["bob", "5", "False", "KV"]
    assert not result.stderr


def test_tiers_without_an_admin_path_lists_kv_and_says_why_in_one_line(fake, kv):
    fake.has_users_list = False
    set_tiers(kv, {"bob": 5})
    result = run("attendees", "tiers")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].split() == ["bob", "5", "False", "KV"]
    assert result.stderr.splitlines() == [
        "Admin API tiers not listed, KV only: The gateway at http://gateway.test has no admin route GET /admin/users: "
        "its Worker predates this control — deploy the current Worker."]


def test_tiers_with_a_refused_token_is_an_error(fake, kv):
    fake.token = "the-workers-other-token"
    result = run("attendees", "tiers")
    assert result.exit_code == 1 and result.output.startswith("Error: The gateway at http://gateway.test refused the "
                                                             "admin token (401)")


def test_reissue_prints_user_and_the_key_of_the_new_generation(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("USER_KEY_SECRET", "event-secret")
    keys = tmp_path / "runs" / "20261130-080000" / "05_attendees" / "attendee_keys.csv"
    keys.parent.mkdir(parents=True)
    keys.write_text(f"user_id,user_key,name\nalice,{user_key('event-secret', 'alice')},Alice\n"
                    f"bob,{user_key('event-secret', 'bob')},Bob\n")
    first = run("attendees", "reissue", "alice")
    second = run("attendees", "reissue", "alice")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == f"alice,{user_key('event-secret', 'alice', 1)}"
    assert second.stdout.strip() == f"alice,{user_key('event-secret', 'alice', 2)}"
    assert f"updated {keys}" in second.stderr
    rows = list(csv.DictReader(keys.open()))
    assert rows == [{"user_id": "alice", "user_key": user_key("event-secret", "alice", 2), "name": "Alice"},
                    {"user_id": "bob", "user_key": user_key("event-secret", "bob"), "name": "Bob"}]


def test_reissue_without_the_secret_changes_nothing(fake, monkeypatch):
    monkeypatch.delenv("USER_KEY_SECRET", raising=False)
    result = run("attendees", "reissue", "alice")
    assert result.exit_code == 1 and "USER_KEY_SECRET is not set" in result.output
    assert not fake.requests


def test_revoke_calls_the_admin_api_and_blanks_the_csv_key(fake, monkeypatch, tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text("user_id,user_key\nalice,abc\n")
    result = run("attendees", "revoke", "alice", "--csv", str(keys))
    assert result.exit_code == 0, result.output
    assert fake.revoked == {"alice"} and keys.read_text() == "user_id,user_key\nalice,\n"


def test_keys_of_later_generations_differ_from_each_other_and_from_the_first():
    keys = {user_key("s", "alice", g) for g in range(4)}
    assert len(keys) == 4 and user_key("s", "alice", 0) == user_key("s", "alice")
