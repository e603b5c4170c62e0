"""Deploy and tail through a fake `wrangler` that prints what wrangler 4.86 prints (no network),
then the smoke test against the "deployed" gateway — the local stack — with the remote access
log read through the SDK from a fake D1 that serves the stack's own D1 file."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from gateway_ops.cloudflare import deploy as deploying
from gateway_ops.cloudflare.errors import WranglerError, WranglerNotInstalledError
from gateway_ops.cloudflare.wrangler_toml import write_ids
from gateway_ops.accesslog import find_local_database
from gateway_ops.exceptions import SettingsError
from gateway_ops.stack import free_port
from helpers import apply_all_migrations, fresh_user

from .fake_cloudflare import ACCOUNT, TOKEN
from .fake_wrangler import VERSION

KV_ID = "0f2ac74b498b48028cb68387c421e279"
REAL_OUTPUT = """
 ⛅️ wrangler 4.86.0
───────────────────
Total Upload: 86.64 KiB / gzip: 23.01 KiB
Your Worker has access to the following bindings:
Binding                                   Resource
env.GATEWAY_KV (0f2ac74b)                 KV Namespace
Uploaded organized-gateway (2.87 sec)
Deployed organized-gateway triggers (0.94 sec)
  gateway.example.org (custom domain)
  https://organized-gateway.workshop-demo.workers.dev
  schedule: */5 * * * *
Current Version ID: 7c1f3a52-9e0b-4d6a-8f21-3b5c9d0e4a17
""".splitlines()


@pytest.fixture
def bootstrapped(worker_copy):
    write_ids(worker_copy / "wrangler.toml", KV_ID, str(uuid.uuid4()))
    return worker_copy


@pytest.fixture
def wrangler_log(tmp_path, monkeypatch):
    log = tmp_path / "wrangler-calls.jsonl"
    monkeypatch.setenv("FAKE_WRANGLER_LOG", str(log))
    return log


def calls(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_parsing_finds_the_workers_dev_url_and_the_version():
    deployment = deploying.parse_deploy_output(REAL_OUTPUT)
    assert deployment.url == "https://organized-gateway.workshop-demo.workers.dev"
    assert deployment.version_id == "7c1f3a52-9e0b-4d6a-8f21-3b5c9d0e4a17"
    assert deploying.parse_deploy_output(["\x1b[32mCurrent Version ID:\x1b[0m abcdef12-3456"]).version_id == \
        "abcdef12-3456"
    assert deploying.parse_deploy_output(["Uploaded x (1 sec)"]).url is None


def test_deploy_streams_progress_and_reports_url_and_version(cf_settings, bootstrapped, fake_wrangler, wrangler_log):
    lines: list[str] = []
    deployment = deploying.deploy(cf_settings, wrangler=fake_wrangler, worker_dir=bootstrapped, on_line=lines.append)
    assert lines[1] == " ⛅️ wrangler 4.86.0" and lines[-1] == f"Current Version ID: {VERSION}"
    assert "Uploaded organized-gateway (2.87 sec)" in lines
    assert deployment.url == "https://organized-gateway.workshop-demo.workers.dev" and deployment.version_id == VERSION
    [call] = calls(wrangler_log)
    assert call["argv"] == ["deploy"] and call["cwd"] == str(bootstrapped)
    assert call["token_in_env"] and not call["token_in_argv"] and call["account_id"] == ACCOUNT
    assert TOKEN not in "\n".join(lines)


def test_deploy_before_bootstrap_says_to_bootstrap_and_never_runs_wrangler(cf_settings, worker_copy, fake_wrangler,
                                                                          wrangler_log):
    with pytest.raises(SettingsError, match="run `gateway-ops bootstrap --target cloudflare` first"):
        deploying.deploy(cf_settings, wrangler=fake_wrangler, worker_dir=worker_copy)
    assert calls(wrangler_log) == []


def test_a_missing_wrangler_is_one_sentence(cf_settings, bootstrapped):
    with pytest.raises(WranglerNotInstalledError, match=r"wrangler is not installed .* run `make install`"):
        deploying.deploy(cf_settings, worker_dir=bootstrapped)  # the copy has no node_modules


@pytest.mark.parametrize("mode, words", [
    ("auth", "wrangler deploy failed: the API token may not deploy Workers: give it Workers Scripts Edit"),
    ("subdomain", "has no workers.dev subdomain yet: open Workers & Pages in the Cloudflare dashboard once"),
    ("silent", "printed no URL"),
    ("crash", "failed (exit 1); its last lines:\n"),
])
def test_wrangler_failures_say_what_to_do(cf_settings, bootstrapped, fake_wrangler, monkeypatch, mode, words):
    monkeypatch.setenv("FAKE_WRANGLER_MODE", mode)
    with pytest.raises(WranglerError) as caught:
        deploying.deploy(cf_settings, wrangler=fake_wrangler, worker_dir=bootstrapped)
    assert words in str(caught.value)
    if mode == "crash":
        assert "Something unexpected happened inside the bundler" in str(caught.value)


def test_a_hanging_wrangler_is_stopped_at_the_timeout(cf_settings, bootstrapped, fake_wrangler, wrangler_log,
                                                      monkeypatch):
    monkeypatch.setenv("FAKE_WRANGLER_MODE", "hang")
    with pytest.raises(WranglerError, match="did not finish within 1 s"):
        deploying.deploy(cf_settings, wrangler=fake_wrangler, worker_dir=bootstrapped, timeout=1)
    [call] = calls(wrangler_log)
    with pytest.raises(ProcessLookupError):
        os.kill(call["pid"], 0)


def test_missing_credentials_stop_before_wrangler(cf_settings, bootstrapped, fake_wrangler, wrangler_log):
    with pytest.raises(SettingsError, match="CLOUDFLARE_API_TOKEN is not set"):
        deploying.deploy(cf_settings.model_copy(update={"CLOUDFLARE_API_TOKEN": None}), wrangler=fake_wrangler,
                         worker_dir=bootstrapped)
    assert calls(wrangler_log) == []


def test_tail_streams_until_its_duration_and_leaves_no_process(cf_settings, bootstrapped, fake_wrangler, wrangler_log):
    lines: list[str] = []
    deploying.tail(cf_settings, wrangler=fake_wrangler, worker_dir=bootstrapped, on_line=lines.append, duration=1.0)
    assert "Connected to organized-gateway, waiting for logs..." in lines
    assert any("/v1/chat/completions - Ok" in line for line in lines)
    [call] = calls(wrangler_log)
    assert call["argv"] == ["tail", "organized-gateway", "--format", "pretty"]
    with pytest.raises(ProcessLookupError):
        os.kill(call["pid"], 0)
    with pytest.raises(SettingsError, match="pretty or json"):
        deploying.tail(cf_settings, wrangler=fake_wrangler, worker_dir=bootstrapped, output_format="xml")


def test_tail_passes_the_manuals_filters_to_wrangler(cf_settings, bootstrapped, fake_wrangler, wrangler_log):
    """The operator's manual tails with --status, --sampling-rate and --search."""
    deploying.tail(cf_settings, wrangler=fake_wrangler, worker_dir=bootstrapped, on_line=lambda line: None,
                   duration=0.5, statuses=["error", "canceled"], sampling_rate=0.25, search="rate limit")
    [call] = calls(wrangler_log)
    assert call["argv"] == ["tail", "organized-gateway", "--format", "pretty", "--status", "error", "--status",
                            "canceled", "--sampling-rate", "0.25", "--search", "rate limit"]
    for wrong, message in (({"statuses": ["failed"]}, "ok, error, canceled"), ({"sampling_rate": 2.0}, r"\(0, 1\]")):
        with pytest.raises(SettingsError, match=message):
            deploying.tail(cf_settings, wrangler=fake_wrangler, worker_dir=bootstrapped, **wrong)
    assert len(calls(wrangler_log)) == 1  # refused before wrangler ran


def test_deploy_then_smoke_against_the_deployed_gateway_and_its_remote_log(
        stack, fake, cf_settings, worker_copy, fake_wrangler, monkeypatch):
    """The fake wrangler "deploys" the session stack; the D1 query API serves the stack's D1 file."""
    remote_d1 = fake.add_d1("organized-gateway-db", path=find_local_database(stack.state_dir))
    write_ids(worker_copy / "wrangler.toml", KV_ID, remote_d1.uuid)
    monkeypatch.setenv("FAKE_WRANGLER_URL", stack.url)
    user = fresh_user("deploy")
    result = deploying.deploy_and_smoke(cf_settings, "cloudflare", wrangler=fake_wrangler, worker_dir=worker_copy,
                                        http_client=fake.http_client(), user_id=user, live_timeout=10)
    assert result.passed, [c for c in result.checks if not c.passed]
    assert result.deployment is not None
    assert result.url == stack.url and result.deployment.version_id == VERSION
    assert [c.name for c in result.checks] == ["wrangler deploy", "gateway health", "chat completion",
                                               "request id returned", "rate-limit headers", "access-log row"]
    queries = [r for r in fake.requests if r.path.endswith(f"/d1/database/{remote_d1.uuid}/query")]
    assert queries and all(r.body["params"] for r in queries)  # the request id was bound, not interpolated


def test_the_smoke_fails_when_the_remote_log_lacks_the_row(stack, fake, cf_settings, worker_copy, fake_wrangler,
                                                           monkeypatch):
    empty = fake.add_d1("organized-gateway-db")
    apply_all_migrations(empty.db)
    write_ids(worker_copy / "wrangler.toml", KV_ID, empty.uuid)
    monkeypatch.setenv("FAKE_WRANGLER_URL", stack.url)
    result = deploying.deploy_and_smoke(cf_settings, "cloudflare", wrangler=fake_wrangler, worker_dir=worker_copy,
                                        http_client=fake.http_client(), user_id=fresh_user("deploy"),
                                        live_timeout=10, log_timeout=0.5)
    checks = {c.name: c for c in result.checks}
    assert not result.passed and checks["access-log row"].observed == "no row" and checks["chat completion"].passed


def test_local_target_smoke_tests_the_running_stack(stack, cf_settings):
    settings = cf_settings.model_copy(update={"GATEWAY_URL": stack.url, "GATEWAY_STATE_DIR": stack.state_dir})
    result = deploying.deploy_and_smoke(settings, "local", user_id=fresh_user("deploy"))
    assert result.passed and result.deployment is None and result.url == stack.url
    assert result.checks[0].name == "Worker packages installed"
    dead = deploying.deploy_and_smoke(settings, "local", url=f"http://127.0.0.1:{free_port()}")
    assert not dead.passed
