"""Applying ORIGIN_MAX_CONCURRENCY locally: the value, the state-folder file, and the next stack's Worker."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway_ops import cli, cli_origin
from gateway_ops.exceptions import SettingsError
from gateway_ops.origin_concurrency import clear_local, parse_concurrency, read_local, set_local
from gateway_ops.settings import Settings
from gateway_ops.stack import LocalStack, StackConfig

runner = CliRunner()


@pytest.mark.parametrize(("text", "value"), [("4", "4"), (" 4, 2 ", "4,2"), ("16", "16")])
def test_values_are_one_number_or_one_per_origin(text, value):
    assert parse_concurrency(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "four", "4,", "4,0", "", "1.5"])
def test_other_values_are_refused_in_one_sentence(text):
    with pytest.raises(SettingsError, match="whole number ≥ 1"):
        parse_concurrency(text)


def test_the_local_value_reaches_the_next_stacks_worker_unless_the_environment_sets_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ORIGIN_MAX_CONCURRENCY", raising=False)
    stack = LocalStack(StackConfig(state_dir=tmp_path))  # not started: only the environment it would give
    assert "ORIGIN_MAX_CONCURRENCY" not in stack._worker_env()
    set_local(tmp_path, "3")
    assert read_local(tmp_path) == "3" and stack._worker_env()["ORIGIN_MAX_CONCURRENCY"] == "3"
    monkeypatch.setenv("ORIGIN_MAX_CONCURRENCY", "5")
    assert stack._worker_env()["ORIGIN_MAX_CONCURRENCY"] == "5"
    explicit = LocalStack(StackConfig(state_dir=tmp_path, worker_settings={}))  # tests pass their own settings
    assert "ORIGIN_MAX_CONCURRENCY" not in explicit._worker_env()
    assert clear_local(tmp_path) and read_local(tmp_path) is None


def test_a_pool_of_simulated_origins_is_one_openclaw_url(tmp_path):
    stack = LocalStack(StackConfig(state_dir=tmp_path, upstream_port=1001, pool_ports=[1002, 1003], worker_settings={}))
    assert stack._worker_env()["OPENCLAW_URL"] == "http://127.0.0.1:1001,http://127.0.0.1:1002,http://127.0.0.1:1003"


def test_origin_concurrency_local_writes_the_setting_and_says_when_it_applies(tmp_path, monkeypatch):
    monkeypatch.delenv("ORIGIN_MAX_CONCURRENCY", raising=False)
    monkeypatch.setattr(cli_origin, "load_settings", lambda: Settings(_env_file=None, GATEWAY_STATE_DIR=tmp_path))
    result = runner.invoke(cli.app, ["origin", "concurrency", "4", "--target", "local"])
    assert result.exit_code == 0, result.output
    assert read_local(tmp_path) == "4" and "next `gateway-ops up`" in result.output
    bad = runner.invoke(cli.app, ["origin", "concurrency", "0", "--target", "local"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: ORIGIN_MAX_CONCURRENCY must be") and read_local(tmp_path) == "4"
    monkeypatch.setenv("ORIGIN_MAX_CONCURRENCY", "9")
    noted = runner.invoke(cli.app, ["origin", "concurrency", "2", "--target", "local"])
    assert noted.exit_code == 0 and "the environment wins" in noted.output
