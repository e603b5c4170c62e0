"""The command line: options reach the library, errors are one line, exit codes mean pass/fail."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest
from typer.testing import CliRunner

from gateway_ops import cli
from gateway_ops.accesslog import LocalAccessLog
from gateway_ops.stack import free_port, port_is_free
from helpers import client_headers, wait_for_rows

runner = CliRunner()


def test_query_prints_json_from_the_local_log(gateway_env):
    httpx.get(f"{gateway_env.url}/v1/models", headers=client_headers("cli-json"))
    wait_for_rows(LocalAccessLog(gateway_env.state_dir), "cli-json", 1)
    result = runner.invoke(cli.app, ["query", "SELECT user_id, status FROM requests WHERE user_id = ?", "--format",
                                     "json"], catch_exceptions=False)
    # The SQL has a placeholder and no parameter: the error is one sentence, not a traceback.
    assert result.exit_code == 1 and "Error:" in result.output and "Traceback" not in result.output
    result = runner.invoke(cli.app, ["query", "SELECT user_id, status FROM requests WHERE user_id = 'cli-json'",
                                     "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"user_id": "cli-json", "status": 200}]


def test_query_formats(gateway_env):
    csv = runner.invoke(cli.app, ["query", "SELECT 1 AS one, 'x' AS two", "--format", "csv"])
    assert csv.output.splitlines() == ["one,two", "1,x"]
    table = runner.invoke(cli.app, ["query", "SELECT 1 AS one"])
    assert "one" in table.output and "1" in table.output
    bad = runner.invoke(cli.app, ["query", "SELECT 1", "--format", "xml"])
    assert bad.exit_code == 2


def test_query_without_a_local_log_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("GATEWAY_TARGET", "local")
    result = runner.invoke(cli.app, ["query", "SELECT 1"])
    assert result.exit_code == 1
    assert "Error: No local access log" in result.output and "Traceback" not in result.output


def test_smoke_exit_code_follows_the_checks(gateway_env):
    assert runner.invoke(cli.app, ["smoke"]).exit_code == 0
    failed = runner.invoke(cli.app, ["smoke", "--url", f"http://127.0.0.1:{free_port()}"])
    assert failed.exit_code == 1 and "FAIL" in failed.output


def test_demo_passes_its_options_to_run_demo(monkeypatch):
    seen: dict = {}

    def fake_run_demo(settings, say, profile, upstream_url):
        seen.update(profile=profile, upstream_url=upstream_url)
        return []

    monkeypatch.setattr("gateway_ops.demo.run_demo", fake_run_demo)
    result = runner.invoke(cli.app, ["demo", "--profile", "large"])
    assert result.exit_code == 0 and seen == {"profile": "large", "upstream_url": None}
    result = runner.invoke(cli.app, ["demo", "--upstream-url", "http://127.0.0.1:9"])
    assert result.exit_code == 0 and seen["upstream_url"] == "http://127.0.0.1:9"


@pytest.mark.stack
def test_up_prints_ready_and_stops_everything_on_sigterm(tmp_path):
    port, upstream = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway_ops.cli", "up", "--port", str(port), "--upstream-port", str(upstream),
         "--profile", "instant"],
        env={**__import__("os").environ, "GATEWAY_STATE_DIR": str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        assert first.strip() == f"ready http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert port_is_free(port) and port_is_free(upstream)


def test_the_rehearsal_generates_a_key_only_for_its_own_simulated_origin(monkeypatch):
    from gateway_ops.demo import rehearsal_client_key
    from gateway_ops.settings import Settings

    monkeypatch.delenv("GATEWAY_CLIENT_API_KEY", raising=False)
    said: list[str] = []
    with rehearsal_client_key(Settings(_env_file=None), None, said.append):
        generated = __import__("os").environ["GATEWAY_CLIENT_API_KEY"]
        assert generated.startswith("demo-") and len(generated) > 20
    assert "GATEWAY_CLIENT_API_KEY" not in __import__("os").environ
    assert generated not in " ".join(said) and "generated key" in said[0]
    with rehearsal_client_key(Settings(_env_file=None), "http://127.0.0.1:9", said.append):
        assert "GATEWAY_CLIENT_API_KEY" not in __import__("os").environ  # a real origin's key cannot be invented


@pytest.mark.stack
def test_demo_against_a_strict_origin_without_its_key_stops_with_one_sentence(stack, tmp_path, monkeypatch):
    """`make demo UPSTREAM_URL=…` against an origin that requires a key the client does not have."""
    from gateway_ops import demo
    from gateway_ops.stack import StackConfig

    monkeypatch.setattr(demo, "StackConfig", lambda **options: StackConfig(port=free_port(), **options))
    monkeypatch.setenv("GATEWAY_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GATEWAY_RUNS_DIR", str(tmp_path / "runs"))
    for key, unset in (("", " (GATEWAY_CLIENT_API_KEY is not set)"), ("sk-not-the-origins", "")):
        monkeypatch.setenv("GATEWAY_CLIENT_API_KEY", key)
        result = runner.invoke(cli.app, ["demo", "--upstream-url", stack.origin_url])
        assert result.exit_code == 1, result.output
        [error] = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert error.startswith(f"Error: The rehearsal cannot start against {stack.origin_url}{unset}. Asking for "
                                "/v1/models, the origin refused the key (401 invalid_api_key")
        assert "Running 01_bootstrap" not in result.output and "Traceback" not in result.output
        assert "sk-not-the-origins" not in result.output
    assert not list((tmp_path / "runs").glob("*/*/result.json"))  # no notebook ran
