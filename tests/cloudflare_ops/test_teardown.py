"""`gateway-ops teardown`: shows first, deletes only when confirmed, safe to run twice, says what remains
(Cloudflare faked at the HTTP level; local files real, in tmp_path)."""
from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from gateway_ops import cli, cli_cloudflare
from gateway_ops.cloudflare.teardown import delete_planned, looks_like_state, plan_teardown
from gateway_ops.cloudflare.wrangler_toml import config_in, with_ids
from gateway_ops.cloudflare_api import make_client
from gateway_ops.controls.token import TOKEN_FILE
from gateway_ops.migration_stamp import STAMP_NAME
from gateway_ops.origin_concurrency import LOCAL_FILE as CONCURRENCY_FILE, set_local as write_local_concurrency
from gateway_ops.paths import MIGRATIONS_DIR
from gateway_ops.settings import Settings

from .fake_cloudflare import ACCOUNT, error_response

runner = CliRunner()


@pytest.fixture
def event(fake, worker_copy, tmp_path):
    """An account and a machine after an event: Worker, KV, D1 (with an access log), attendee files, state."""
    names = config_in(worker_copy)
    fake.scripts[names.worker_name] = {"secrets": {}, "uploads": 1}
    kv_id = fake.add_kv(names.kv_title)
    fake.add_kv("someone-elses-namespace")
    database = fake.add_d1(names.d1_name)
    database.db.executescript((MIGRATIONS_DIR / "0001_init.sql").read_text())
    database.db.execute("INSERT INTO requests (request_id, user_id, method, endpoint, status, latency_ms, created_at) "
                        "VALUES ('r1', 'alice', 'POST', '/v1/chat/completions', 200, 12, '2026-11-30T09:00:00.000Z')")
    toml = worker_copy / "wrangler.toml"
    toml.write_text(with_ids(toml.read_text(), kv_id, database.uuid, toml))
    runs = tmp_path / "runs" / "20261130-080000" / "05_attendees"
    runs.mkdir(parents=True)
    for name in ("attendee_keys.csv", "attendee_cards.html"):
        (runs / name).write_text("x")
    (tmp_path / "runs" / "notes.txt").write_text("kept")
    state = tmp_path / "state"
    (state / "v3" / "d1").mkdir(parents=True)
    (state / "admin_token").write_text("t")
    return {"fake": fake, "config": config_in(worker_copy), "state": state, "runs": tmp_path / "runs",
            "database": database}


@pytest.fixture
def cli_on_fake(event, cf_settings, monkeypatch):
    settings = Settings(_env_file=None, CLOUDFLARE_API_TOKEN=cf_settings.CLOUDFLARE_API_TOKEN,
                        CLOUDFLARE_ACCOUNT_ID=ACCOUNT, GATEWAY_STATE_DIR=event["state"])
    monkeypatch.setattr(cli_cloudflare, "load_settings", lambda: settings)
    monkeypatch.setattr(cli_cloudflare, "_cloudflare_or_none",
                        lambda s: (make_client(s, event["fake"].http_client()), ACCOUNT, ""))
    monkeypatch.setattr("gateway_ops.cloudflare.wrangler_toml.read_config", lambda: event["config"])
    monkeypatch.setenv("GATEWAY_RUNS_DIR", str(event["runs"]))
    return event


def test_the_plan_lists_everything_and_changes_nothing(event, client):
    plan = plan_teardown(client, ACCOUNT, event["config"], event["state"], event["runs"])
    assert [(i.kind, i.name) for i in plan.items] == [
        ("Worker", "organized-gateway"), ("KV namespace", "organized-gateway-GATEWAY_KV"),
        ("D1 database", "organized-gateway-db"),
        ("attendee file", str(event["runs"] / "20261130-080000" / "05_attendees" / "attendee_cards.html")),
        ("attendee file", str(event["runs"] / "20261130-080000" / "05_attendees" / "attendee_keys.csv")),
        ("state folder", str(event["state"].resolve()))]
    assert event["fake"].mutating() == []


def test_declining_deletes_nothing(cli_on_fake):
    result = runner.invoke(cli.app, ["teardown", "--no-archive"], input="n\n")
    assert result.exit_code == 0, result.output
    assert "Teardown would delete:" in result.output and result.output.rstrip().endswith("Nothing deleted.")
    assert cli_on_fake["fake"].mutating() == [] and cli_on_fake["state"].exists()


def test_yes_archives_deletes_everything_and_a_second_run_finds_nothing(cli_on_fake):
    fake = cli_on_fake["fake"]
    first = runner.invoke(cli.app, ["teardown", "--yes"])
    assert first.exit_code == 0, first.output
    assert "archived 1 rows of the cloudflare access log" in first.output
    assert list(cli_on_fake["runs"].glob("*/archive-cloudflare/*.parquet"))
    assert first.output.rstrip().endswith("Remains: nothing.")
    assert [(r.method, r.path.split("/")[3]) for r in fake.mutating()] == [
        ("DELETE", "workers"), ("DELETE", "storage"), ("DELETE", "d1")]
    assert not fake.scripts and list(fake.kv.values()) == ["someone-elses-namespace"] and not fake.d1
    assert not cli_on_fake["state"].exists() and not list(cli_on_fake["runs"].glob("**/attendee_*"))
    assert (cli_on_fake["runs"] / "notes.txt").exists()
    fake.requests.clear()
    second = runner.invoke(cli.app, ["teardown", "--yes"])
    assert second.exit_code == 0 and second.output.startswith("Nothing left to delete.")
    assert fake.mutating() == []


def test_a_failed_deletion_is_reported_and_remains(cli_on_fake):
    cli_on_fake["fake"].inject("DELETE", r"/d1/database/", error_response(403, 7403, "The given account is not valid "
                                                                           "or is not authorized to access this service"))
    result = runner.invoke(cli.app, ["teardown", "--yes", "--no-archive"])
    assert result.exit_code == 1
    assert "FAILED  D1 database: organized-gateway-db" in result.output
    assert "Remains:\n  - D1 database: organized-gateway-db (" in result.output


def test_something_already_gone_counts_as_deleted(event, client):
    plan = plan_teardown(client, ACCOUNT, event["config"], event["state"], event["runs"])
    event["fake"].scripts.clear()  # deleted by someone else between plan and delete
    outcomes = delete_planned(plan, client, ACCOUNT)
    assert all(o.deleted for o in outcomes)
    assert [o.detail for o in outcomes if o.item.kind == "Worker"] == ["already gone"]


def test_without_cloudflare_credentials_only_local_data_is_listed(event, tmp_path):
    plan = plan_teardown(None, None, event["config"], event["state"], event["runs"], unchecked_reason="no token")
    assert {i.kind for i in plan.items} == {"attendee file", "state folder"}
    assert "(not checked: Cloudflare — no token)" in plan.text()


def test_only_a_folder_the_stack_made_is_removed_whole(tmp_path):
    assert looks_like_state(tmp_path / "missing") is False
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("")
    (tmp_path / "home" / "v3").mkdir()
    assert looks_like_state(tmp_path / "home") is False
    (tmp_path / "state" / "v3").mkdir(parents=True)
    assert looks_like_state(tmp_path / "state") is True


def test_a_folder_the_stack_and_local_commands_used_is_recognised(stack, tmp_path):
    """The session stack's folder (a Worker ran there), after the local commands wrote their files:
    a file the product writes that teardown does not know would leave the whole folder behind."""
    state = tmp_path / "state"
    shutil.copytree(stack.state_dir, state, ignore=shutil.ignore_patterns("*.sqlite-shm", "*.sqlite-wal"))
    write_local_concurrency(state, "4")  # `gateway-ops origin concurrency 4 --target local`
    assert {TOKEN_FILE, STAMP_NAME, CONCURRENCY_FILE} <= {entry.name for entry in state.iterdir()}
    assert looks_like_state(state) is True
    (state / "notes.txt").write_text("")
    assert looks_like_state(state) is False
