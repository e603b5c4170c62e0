"""Notebooks 01–03 under papermill: their defaults run against the local stack in seconds; the
secrets notebook also runs in cloudflare mode against the fake API served on loopback.

Kernels are slow to start, so the local secrets step and the failing counterparts of the secrets
and deploy notebooks are tested one level down (test_secret_setup.py, test_deploy.py); the
notebooks' last cell asserts on exactly those checks, and tests/test_notebooks.py runs every
notebook with its defaults."""
from __future__ import annotations

import json

import pytest

from gateway_ops.cloudflare.wrangler_toml import WRANGLER_TOML
from gateway_ops.exceptions import NotebookError
from gateway_ops.notebooks import run_notebook
from helpers import fresh_user, migration_names

from .fake_cloudflare import ACCOUNT, TOKEN, FakeCloudflare
from .fake_server import serve

NAMES = migration_names()


def test_bootstrap_notebook_migrates_the_local_stack(gateway_env, tmp_path):
    run = run_notebook("01_bootstrap", {"target": "local"}, run_dir=tmp_path)
    assert run.passed and run.result is not None, json.dumps(run.result, indent=2)
    assert run.result["applied"] == NAMES and run.result["pending"] == []
    names = [c["name"] for c in run.result["checks"]]
    assert names[:5] == ["Worker packages", "KV namespace", "D1 database", "wrangler.toml", "D1 migrations"]
    assert "D1 rows written/day (row + 2 index entries per request)" in names


def test_bootstrap_notebook_dry_run_on_cloudflare_changes_nothing_and_warns_about_the_plan(gateway_env, tmp_path,
                                                                                            monkeypatch):
    """Against the fake API on loopback: a dry run sends no write and leaves worker/wrangler.toml alone;
    an event too big for the plan fails the notebook with the plan rows as the reason."""
    fake = FakeCloudflare()
    toml_before = WRANGLER_TOML.read_bytes()
    with serve(fake) as base_url:
        for name, value in {"CLOUDFLARE_BASE_URL": base_url, "CLOUDFLARE_API_TOKEN": TOKEN,
                            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT}.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(NotebookError, match="the event does not fit the plan"):
            run_notebook("01_bootstrap", {"target": "cloudflare", "dry_run": True, "attendees": 1000},
                         run_dir=tmp_path)
    assert fake.requests and fake.mutating() == [] and fake.kv == {} and fake.d1 == {}
    assert WRANGLER_TOML.read_bytes() == toml_before
    result = json.loads((tmp_path / "01_bootstrap" / "result.json").read_text())
    observed = {c["name"]: c["observed"] for c in result["checks"]}
    assert observed["KV namespace"].startswith("would create") and observed["D1 migrations"].startswith("would apply")
    assert [c["name"] for c in result["checks"] if not c["passed"]][:1] == ["Workers requests/day"]
    assert TOKEN not in (tmp_path / "01_bootstrap" / "01_bootstrap.ipynb").read_text()


def test_secrets_notebook_on_cloudflare_sets_values_from_the_environment_and_shows_none(gateway_env, tmp_path,
                                                                                        monkeypatch):
    fake = FakeCloudflare()
    url_value = "https://mac-mini.tail0a1b2.ts.net/never-printed-9Zr"
    with serve(fake) as base_url:
        for name, value in {"CLOUDFLARE_BASE_URL": base_url, "CLOUDFLARE_API_TOKEN": TOKEN,
                            "CLOUDFLARE_ACCOUNT_ID": ACCOUNT, "OPENCLAW_URL": url_value}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AUTH_MODE", raising=False)
        run = run_notebook("02_secrets", {"target": "cloudflare", "auth_mode": "codex"}, run_dir=tmp_path)
    assert run.passed and run.result is not None, json.dumps(run.result, indent=2)
    stored = fake.scripts["organized-gateway"]["secrets"]
    assert stored["OPENCLAW_URL"] == url_value and stored["AUTH_MODE"] == "codex" and len(stored["IP_HASH_SALT"]) > 40
    assert run.result["secrets_set"] == ["AUTH_MODE", "IP_HASH_SALT", "OPENCLAW_URL"]
    executed = run.notebook.read_text() + (tmp_path / "02_secrets" / "result.json").read_text()
    for value in (url_value, stored["IP_HASH_SALT"], TOKEN):
        assert value not in executed


def test_deploy_notebook_smoke_tests_the_local_stack(gateway_env, tmp_path):
    user = fresh_user("nb-deploy")
    run = run_notebook("03_deploy", {"target": "local", "user_id": user}, run_dir=tmp_path)
    assert run.passed and run.result is not None, json.dumps(run.result, indent=2)
    assert run.result["url"] == gateway_env.url and run.result["version_id"] == "local stack"
    assert [c["name"] for c in run.result["checks"]][-1] == "access-log row"
