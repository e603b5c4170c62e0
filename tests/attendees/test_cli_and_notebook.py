"""`gateway-ops attendees …` and notebook 05, against the local stack; keys never printed."""
from __future__ import annotations

import csv

import httpx
from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.attendees import LocalKV, list_tiers, set_tiers
from gateway_ops.keys import user_key
from gateway_ops.notebooks import run_notebook
from helpers import client_headers, fresh_user

runner = CliRunner()


def test_keys_command_writes_csv_and_cards_without_printing_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("USER_KEY_SECRET", "cli-secret")
    out, cards = tmp_path / "keys.csv", tmp_path / "cards.html"
    result = runner.invoke(cli.app, ["attendees", "keys", "--count", "3", "--prefix", "ws", "--out", str(out),
                                     "--cards", str(cards), "--url", "http://127.0.0.1:8787"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["user_id"] for r in rows] == ["ws-001", "ws-002", "ws-003"]
    assert all(r["user_key"] == user_key("cli-secret", r["user_id"]) for r in rows)
    assert not any(r["user_key"] in result.output for r in rows)
    assert rows[0]["user_key"] in cards.read_text()


def test_keys_command_explains_a_missing_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("USER_KEY_SECRET", raising=False)
    result = runner.invoke(cli.app, ["attendees", "keys", "--count", "2", "--out", str(tmp_path / "k.csv")])
    assert result.exit_code == 1 and "USER_KEY_SECRET is not set" in result.output


def test_tier_commands_on_the_local_stack(gateway_env):
    user = fresh_user("cli-tier")
    said = runner.invoke(cli.app, ["attendees", "tier", user, "0"]).output
    # The session stack has an admin token: the tier goes through the admin API, at once.
    assert said.startswith(f"{user}: blocked") and "via the admin API" in said, said
    blocked = httpx.get(f"{gateway_env.url}/v1/models", headers=client_headers(user), timeout=10)
    assert blocked.status_code == 403 and blocked.json()["error"].startswith("This user is blocked")
    assert runner.invoke(cli.app, ["attendees", "untier", user]).exit_code == 0
    bad = runner.invoke(cli.app, ["attendees", "tier", user, "many"])
    assert bad.exit_code == 1 and "whole number" in bad.output


def test_tiers_lists_an_admin_tier_that_wins_over_kv_on_the_local_stack(gateway_env):
    user = fresh_user("cli-tiers")
    store = LocalKV(gateway_env.state_dir)
    set_tiers(store, {user: 100})
    try:
        said = runner.invoke(cli.app, ["attendees", "tier", user, "0"]).output
        assert "via the admin API" in said, said
        # The KV-only listing (what `attendees tiers` printed before) shows KV's 100, not the 0 in force.
        assert list_tiers(store).set_index("user_id").loc[user, "limit_per_minute"] == 100
        blocked = httpx.get(f"{gateway_env.url}/v1/models", headers=client_headers(user), timeout=10)
        assert blocked.status_code == 403, blocked.text  # the admin 0 is in force, over KV's 100
        listed = runner.invoke(cli.app, ["attendees", "tiers"])
        assert listed.exit_code == 0, listed.output
        row = next(line for line in listed.stdout.splitlines() if line.split()[0] == user)
        assert row.split()[1:5] == ["0", "True", "admin", "API"] and "wins over KV 100" in row, row
        assert not listed.stderr
    finally:
        runner.invoke(cli.app, ["attendees", "untier", user])


def test_attendees_notebook_runs_under_papermill(gateway_env, tmp_path, monkeypatch, minute_guard):
    monkeypatch.delenv("USER_KEY_SECRET", raising=False)
    minute_guard(20)
    run = run_notebook("05_attendees", {"attendee_count": 3, "tier_check_limit": 1}, run_dir=tmp_path)
    assert run.passed and run.result is not None, run.result
    checks = {c["name"]: c for c in run.result["checks"]}
    assert checks["tier honoured"]["observed"] == [200, 429]
    assert (tmp_path / "05_attendees" / "attendee_ids.csv").read_text().splitlines()[1:] == [
        "attendee-001", "attendee-002", "attendee-003"]


def test_attendees_notebook_keeps_keys_out_of_its_output(gateway_env, tmp_path, monkeypatch, minute_guard):
    monkeypatch.setenv("USER_KEY_SECRET", "notebook-secret")
    minute_guard(20)
    run = run_notebook("05_attendees", {"attendee_count": 2, "tier_check_limit": 1}, run_dir=tmp_path)
    assert run.passed and run.result is not None, run.result
    executed = run.notebook.read_text()
    keys = [row["user_key"] for row in csv.DictReader((tmp_path / "05_attendees" / "attendee_keys.csv").open())]
    assert len(keys) == 2 and not any(key in executed for key in keys)
    assert "notebook-secret" not in executed


def test_the_notebooks_tier_form_takes_the_admin_path_and_lists_both_sources(gateway_env, capsys):
    from gateway_ops.attendees.widgets import tier_form
    from gateway_ops.settings import load_settings

    user = fresh_user("form-tier")
    form = tier_form(load_settings(), "local")
    user_box, limit_box, button = form.children[0].children
    user_box.value, limit_box.value = user, 0
    try:
        button.click()  # outside a kernel the form's output is printed: capsys reads it
        shown = capsys.readouterr().out
        assert f"{user}: blocked, via the admin API, in effect on their next request." in shown, shown
        assert user in shown.split("request.", 1)[1], shown  # then listed among the overrides
        blocked = httpx.get(f"{gateway_env.url}/v1/models", headers=client_headers(user), timeout=10)
        assert blocked.status_code == 403, blocked.text
        user_box.value = " "
        button.click()
        assert "Not changed: '' is not a valid user id" in capsys.readouterr().out
    finally:
        runner.invoke(cli.app, ["attendees", "untier", user])
