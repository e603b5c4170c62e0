"""The Cloudflare commands: options reach the library, secrets are never echoed, errors are one line."""
from __future__ import annotations

import os
import re

import httpx
import pytest
from typer.testing import CliRunner

from gateway_ops import cli, cli_cloudflare
from gateway_ops.cloudflare.bootstrap import BootstrapReport
from gateway_ops.cloudflare.deploy import Deployment, DeployResult
from gateway_ops.cloudflare_api import make_client
from gateway_ops.results import Check
from gateway_ops.settings import Settings

from helpers import migration_names

from .fake_cloudflare import ACCOUNT, TOKEN

NAMES = migration_names()

runner = CliRunner()
URL_VALUE = "https://mac-mini.tail0a1b2.ts.net/cli-secret-8Pw"


@pytest.fixture
def hermetic(monkeypatch, tmp_path):
    """Settings from this test only (never a developer's .env), and no Cloudflare credentials."""
    holder = {"settings": Settings(_env_file=None, GATEWAY_STATE_DIR=tmp_path)}
    monkeypatch.setattr(cli_cloudflare, "load_settings", lambda: holder["settings"])
    return holder


@pytest.fixture
def on_fake(fake, cf_settings, hermetic, monkeypatch):
    hermetic["settings"] = cf_settings
    monkeypatch.setattr(cli_cloudflare, "_cloudflare",
                        lambda settings: (make_client(settings, fake.http_client()), ACCOUNT, "organized-gateway"))
    return fake


def test_bootstrap_passes_target_and_dry_run(hermetic, monkeypatch):
    seen: dict[str, object] = {}

    def fake_bootstrap(settings, target, dry_run):
        seen.update(target=target, dry_run=dry_run)
        report = BootstrapReport(target, dry_run, toml_diff="+id = \"x\"\n")
        report.add("KV namespace", "exists", "would create", "organized-gateway-GATEWAY_KV")
        return report

    monkeypatch.setattr("gateway_ops.cloudflare.bootstrap.bootstrap", fake_bootstrap)
    result = runner.invoke(cli.app, ["bootstrap", "--target", "cloudflare", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert seen == {"target": "cloudflare", "dry_run": True}
    assert "would create" in result.output and '+id = "x"' in result.output
    assert result.output.rstrip().endswith("Dry run: nothing was created or written.")


def test_bootstrap_local_for_real_against_the_session_stack(hermetic, stack):
    hermetic["settings"] = Settings(_env_file=None, GATEWAY_STATE_DIR=stack.state_dir)
    result = runner.invoke(cli.app, ["bootstrap", "--target", "local"])
    assert result.exit_code == 0, result.output
    assert re.search(rf"D1 migrations\s+{len(NAMES)} applied\s+already up to date", result.output), result.output
    assert "local storage needs no ids" in result.output
    assert httpx.get(f"{stack.url}/health").status_code == 200  # the running stack did not notice


def test_bootstrap_without_a_token_is_one_line(hermetic):
    result = runner.invoke(cli.app, ["bootstrap", "--target", "cloudflare"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: CLOUDFLARE_API_TOKEN is not set: put it in the environment or in .env."


def test_secrets_set_from_env_never_echoes_the_value(on_fake, monkeypatch):
    monkeypatch.setenv("MY_ORIGIN", URL_VALUE)
    result = runner.invoke(cli.app, ["secrets", "set", "OPENCLAW_URL", "--from-env", "MY_ORIGIN"])
    assert result.exit_code == 0, result.output
    assert on_fake.scripts["organized-gateway"]["secrets"]["OPENCLAW_URL"] == URL_VALUE
    assert URL_VALUE not in result.output and "placeholder Worker" in result.output
    assert "OPENCLAW_URL: set on Worker 'organized-gateway'." in result.output


def test_secrets_set_prompts_hidden_and_confirms(on_fake):
    result = runner.invoke(cli.app, ["secrets", "set", "OPENCLAW_URL"], input=f"{URL_VALUE}\n{URL_VALUE}\n")
    assert result.exit_code == 0, result.output
    assert "Value for OPENCLAW_URL (hidden)" in result.output and URL_VALUE not in result.output
    assert on_fake.scripts["organized-gateway"]["secrets"]["OPENCLAW_URL"] == URL_VALUE


def test_secrets_set_refuses_bad_input_in_one_line(on_fake, monkeypatch):
    monkeypatch.delenv("NOT_EXPORTED", raising=False)
    missing = runner.invoke(cli.app, ["secrets", "set", "OPENCLAW_URL", "--from-env", "NOT_EXPORTED"])
    assert missing.exit_code == 1 and "Error: The environment variable NOT_EXPORTED is not set" in missing.output
    monkeypatch.setenv("BAD", "ftp://nope")
    bad = runner.invoke(cli.app, ["secrets", "set", "OPENCLAW_URL", "--from-env", "BAD"])
    assert bad.exit_code == 1 and "must be the origin's http(s) base URL" in bad.output and "ftp://nope" not in bad.output
    unknown = runner.invoke(cli.app, ["secrets", "set", "OPENAI_API_KEY", "--from-env", "BAD"])
    assert unknown.exit_code == 1 and "Unknown secret OPENAI_API_KEY" in unknown.output
    assert on_fake.requests == []


def test_secrets_generate_keeps_an_existing_key_unless_replace(on_fake):
    first = runner.invoke(cli.app, ["secrets", "set", "IP_HASH_SALT", "--generate"])
    assert first.exit_code == 0 and first.output.strip() == "IP_HASH_SALT: generated"
    salt = on_fake.scripts["organized-gateway"]["secrets"]["IP_HASH_SALT"]
    again = runner.invoke(cli.app, ["secrets", "set", "IP_HASH_SALT", "--generate"])
    assert "already set (kept) — pass --replace" in again.output
    assert on_fake.scripts["organized-gateway"]["secrets"]["IP_HASH_SALT"] == salt and salt not in again.output
    replaced = runner.invoke(cli.app, ["secrets", "set", "IP_HASH_SALT", "--generate", "--replace"])
    assert replaced.output.strip() == "IP_HASH_SALT: replaced"
    assert on_fake.scripts["organized-gateway"]["secrets"]["IP_HASH_SALT"] != salt


def test_secrets_list_shows_names_and_fails_until_the_required_ones_are_set(on_fake, monkeypatch):
    result = runner.invoke(cli.app, ["secrets", "list"])
    assert result.exit_code == 1 and "FAIL" in result.output and "secret OPENCLAW_URL" in result.output
    on_fake.scripts["organized-gateway"] = {"secrets": {"OPENCLAW_URL": URL_VALUE, "AUTH_MODE": "openai"}, "uploads": 1}
    result = runner.invoke(cli.app, ["secrets", "list"])
    assert result.exit_code == 0 and URL_VALUE not in result.output


def test_preflight_plan_only(hermetic):
    fits = runner.invoke(cli.app, ["preflight", "--skip-token", "--attendees", "50", "--rpm", "2", "--hours", "3"])
    assert fits.exit_code == 0, fits.output
    assert "fits about 92 attendees" in fits.output
    assert "38,260 (1% of the limit)" in fits.output  # D1 rows read: 18,000 controls reads (10 isolates) among them
    one_isolate = runner.invoke(cli.app, ["preflight", "--skip-token", "--attendees", "50", "--rpm", "2", "--hours", "3",
                                          "--isolates", "1"])
    assert "31,060 (1% of the limit)" in one_isolate.output  # one isolate reads the controls at most 10,800 times
    too_big = runner.invoke(cli.app, ["preflight", "--skip-token", "--attendees", "100", "--rpm", "2", "--hours", "3"])
    assert too_big.exit_code == 1 and "exhausted after about 2.8 h" in too_big.output
    nothing = runner.invoke(cli.app, ["preflight", "--skip-token"])
    assert nothing.exit_code == 2


def test_preflight_token_names_the_missing_permission(on_fake):
    on_fake.denied.add("kv")
    result = runner.invoke(cli.app, ["preflight"])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "permission: Workers KV Storage Edit" in result.output
    assert TOKEN not in result.output


def test_deploy_streams_progress_then_prints_the_smoke_table(hermetic, cf_settings, monkeypatch):
    hermetic["settings"] = cf_settings

    def fake_deploy_and_smoke(settings, target, url, model, on_line):
        assert model == "llama3.2:3b"
        on_line("Uploaded organized-gateway (2.87 sec)")
        deployment = Deployment("https://organized-gateway.example.workers.dev", "7c1f3a52-9e0b")
        return DeployResult("cloudflare", url or str(deployment.url), deployment,
                            [Check("gateway health", "200 status ok", "200", True)])

    monkeypatch.setattr("gateway_ops.cloudflare.deploy.deploy_and_smoke", fake_deploy_and_smoke)
    result = runner.invoke(cli.app, ["deploy", "--model", "llama3.2:3b"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "  Uploaded organized-gateway (2.87 sec)"
    assert lines[1] == "Deployed https://organized-gateway.example.workers.dev (version 7c1f3a52-9e0b)."
    assert "PASS" in result.output


def test_tail_passes_its_filters_to_the_library(monkeypatch):
    seen = {}
    monkeypatch.setattr("gateway_ops.cloudflare.deploy.tail", lambda settings, **options: seen.update(options))
    result = runner.invoke(cli.app, ["tail", "--status", "error", "--status", "ok", "--sampling-rate", "0.1",
                                     "--search", "quota", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert (seen["statuses"], seen["sampling_rate"], seen["search"], seen["output_format"]) == (
        ["error", "ok"], 0.1, "quota", "json")


def test_deploy_and_tail_without_credentials_are_one_line(hermetic):
    for command in (["deploy"], ["tail", "--duration", "1"]):
        result = runner.invoke(cli.app, command)
        assert result.exit_code == 1, result.output
        assert result.output.startswith("Error: ") and "Traceback" not in result.output


def test_secrets_sync_sets_what_the_environment_has(on_fake, cf_settings, hermetic, monkeypatch, tmp_path):
    monkeypatch.setattr("gateway_ops.cloudflare.secret_setup.environment_with_env_file",
                        lambda env_file=None: dict(os.environ))  # never a developer's .env
    monkeypatch.setattr("gateway_ops.cloudflare.secret_setup.make_client",
                        lambda settings, http_client=None: make_client(settings, on_fake.http_client()))
    for name in ("OPENCLAW_URL", "AUTH_MODE", "USER_KEY_SECRET", "IP_HASH_SALT"):
        monkeypatch.delenv(name, raising=False)
    missing = runner.invoke(cli.app, ["secrets", "sync"])
    assert missing.exit_code == 1 and "Missing: OPENCLAW_URL" in missing.output
    monkeypatch.setenv("OPENCLAW_URL", URL_VALUE)
    done = runner.invoke(cli.app, ["secrets", "sync", "--generate", "IP_HASH_SALT", "--auth-mode", "codex"])
    assert done.exit_code == 0, done.output
    stored = on_fake.scripts["organized-gateway"]["secrets"]
    assert stored["OPENCLAW_URL"] == URL_VALUE and stored["AUTH_MODE"] == "codex" and "IP_HASH_SALT" in stored
    assert URL_VALUE not in done.output and stored["IP_HASH_SALT"] not in done.output


def test_origin_concurrency_on_cloudflare_sets_the_secret_through_the_api(on_fake, monkeypatch):
    from gateway_ops import cli_origin

    monkeypatch.setattr(cli_origin, "load_settings", cli_cloudflare.load_settings)  # the fake's account
    result = runner.invoke(cli.app, ["origin", "concurrency", "4,2", "--target", "cloudflare"])
    assert result.exit_code == 0, result.output
    assert on_fake.scripts["organized-gateway"]["secrets"]["ORIGIN_MAX_CONCURRENCY"] == "4,2"
    assert "ORIGIN_MAX_CONCURRENCY=4,2 set on Worker 'organized-gateway'" in result.output
    bad = runner.invoke(cli.app, ["origin", "concurrency", "zero", "--target", "cloudflare"])
    assert bad.exit_code == 1 and "must be a whole number" in bad.output
