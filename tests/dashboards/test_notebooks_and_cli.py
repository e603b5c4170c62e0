"""Notebooks 08 and 09 under papermill against the session stack with traffic, and the CLI commands."""
from __future__ import annotations

import json
from datetime import datetime, UTC

import pandas as pd
import pytest
from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.notebooks import run_notebook
from gateway_ops.stack import free_port

from helpers import fresh_user, wait_for_rows, wait_unless_minute_has

from .helpers import NOW, LogFile, row, send

runner = CliRunner()


@pytest.mark.notebook
def test_dashboard_notebook_shows_the_traffic_and_refreshes(gateway_env, access_log, tmp_path):
    user = fresh_user("nb08")
    wait_unless_minute_has()
    statuses = send(gateway_env.url, user, 55)
    assert statuses.count(429) == 5
    assert len(wait_for_rows(access_log, user, 55)) == 55
    run = run_notebook("08_live_dashboard", {"run_for_seconds": 2, "refresh_seconds": 1, "window_minutes": 5},
                       run_dir=tmp_path)
    assert run.passed and run.result is not None, json.dumps(run.result, indent=2)
    assert run.result["users"][user] == {"requests": 55, "rate_limited": 5, "limit_state": "over"}
    modes = [read["mode"] for read in run.result["reads"]]
    assert modes[0] == "first load" and set(modes[1:]) == {"incremental"} and run.result["timer_refreshes"] >= 1
    assert all(read["rows_read"] == read["new_rows"] for read in run.result["reads"][1:])


@pytest.mark.notebook
def test_event_report_notebook_writes_the_report_and_the_archive(gateway_env, access_log, tmp_path):
    since = datetime.now(UTC).isoformat()
    user = fresh_user("nb09")
    send(gateway_env.url, user, 7, chat_every=3)
    assert len(wait_for_rows(access_log, user, 7)) == 7
    run = run_notebook("09_event_report", {"since": since}, run_dir=tmp_path)
    assert run.passed and run.result is not None, json.dumps(run.result, indent=2)
    report = tmp_path / "09_event_report" / "event_report.html"
    assert run.result["report"] == str(report) and f'data-user="{user}"' in report.read_text()
    archived = pd.read_parquet(run.result["archive"]["parquet"])
    assert (archived["user_id"] == user).sum() == 7 and run.result["deleted"] is None
    assert archived["created_at"].min() >= since[:19].replace("T", " ")


@pytest.fixture
def local_log(tmp_path, monkeypatch):
    log_file = LogFile(tmp_path / "state")
    log_file.add([row("alice", 120), row("alice", 60, status=429), row("bob", 30)])
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(log_file.state_dir))
    monkeypatch.setenv("GATEWAY_TARGET", "local")
    monkeypatch.setenv("GATEWAY_RUNS_DIR", str(tmp_path / "runs"))
    return log_file


def test_report_command_writes_and_prints_the_path(local_log, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(cli.app, ["report", "--out", str(out), "--since", "2026-11-28T10:00:00Z"])
    assert result.exit_code == 0, result.output
    assert f"report {out.resolve()}" in result.output and "3 requests from 2 attendees, 1 rate-limited" in result.output
    assert 'data-user="alice"' in out.read_text()


def test_report_command_bad_time_is_one_line(local_log, tmp_path):
    result = runner.invoke(cli.app, ["report", "--out", str(tmp_path / "r.html"), "--since", "last tuesday"])
    assert result.exit_code == 1 and "Error: Cannot read 'last tuesday' as a time" in result.output
    assert "Traceback" not in result.output


def test_archive_command_exports_and_asks_before_deleting(local_log, tmp_path):
    result = runner.invoke(cli.app, ["archive", "--out", str(tmp_path / "a"), "--delete"], input="n\n")
    assert result.exit_code == 0, result.output
    assert "archived 3 rows" in result.output and "Nothing deleted." in result.output
    assert (tmp_path / "a" / "requests.parquet").exists() and (tmp_path / "a" / "requests.csv").exists()
    assert local_log.execute("SELECT COUNT(*) FROM requests")[0][0] == 3


@pytest.mark.stack  # runs the real wrangler
def test_archive_delete_refuses_a_database_wrangler_does_not_see(local_log, tmp_path):
    # This log file is not the one wrangler would delete from: nothing may be deleted anywhere.
    result = runner.invoke(cli.app, ["archive", "--out", str(tmp_path / "a"), "--delete", "--yes",
                                     "--until", (NOW + pd.Timedelta(days=1)).isoformat()])
    assert result.exit_code == 1 and "Traceback" not in result.output
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert error == ["Error: wrangler could not run SQL on the local access log: no such table: requests: "
                     "SQLITE_ERROR. Nothing was deleted."]
    assert local_log.execute("SELECT COUNT(*) FROM requests")[0][0] == 3


def test_dashboard_command_refuses_a_busy_port(local_log, tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", free_port()))
        busy.listen()
        result = runner.invoke(cli.app, ["dashboard", "--port", str(busy.getsockname()[1])])
    assert result.exit_code == 1 and "is already in use" in result.output
    assert not (tmp_path / "runs").exists()  # nothing recorded for a dashboard that never started


def test_dashboard_command_checks_its_options_before_starting(local_log, monkeypatch):
    assert runner.invoke(cli.app, ["dashboard", "--window", "7"]).exit_code == 2
    result = runner.invoke(cli.app, ["dashboard", "--target", "prod"])
    assert result.exit_code == 1 and "Error: Unknown target 'prod'" in result.output
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    monkeypatch.setattr("gateway_ops.settings.Settings.model_config", {**cli.load_settings().model_config,
                                                                        "env_file": None})
    result = runner.invoke(cli.app, ["dashboard", "--target", "cloudflare"])
    assert result.exit_code == 1 and "CLOUDFLARE_API_TOKEN is not set" in result.output


def test_commands_are_listed():
    result = runner.invoke(cli.app, ["--help"])
    for command in ("dashboard", "report", "archive"):
        assert command in result.output
