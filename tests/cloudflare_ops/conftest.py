"""Fixtures for the Cloudflare operations tests: the fake API, settings, and copies of the Worker config.

No test here edits the real worker/wrangler.toml: ``worker_copy`` is a copy in tmp_path with the
migrations beside it, exactly as ``migrations_dir = "../migrations"`` expects.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from gateway_ops.cloudflare_api import make_client
from gateway_ops.paths import MIGRATIONS_DIR, WORKER_DIR
from gateway_ops.settings import Settings

from .fake_cloudflare import ACCOUNT, TOKEN, FakeCloudflare
from .openapi_check import CloudflareSchema

FAKE_WRANGLER = Path(__file__).with_name("fake_wrangler.py")


@pytest.fixture(scope="session")
def cloudflare_schema() -> CloudflareSchema:
    return CloudflareSchema.load()


@pytest.fixture(autouse=True)
def exchanges_follow_cloudflare_schema(cloudflare_schema):
    """After each test, every request sent to a fake and every answer it gave must be what
    Cloudflare's published schema describes (for endpoints it lacks, the test fails too)."""
    FakeCloudflare.created.clear()
    yield
    problems = [problem for made in FakeCloudflare.created for exchange in made.exchanges
                for problem in cloudflare_schema.problems(exchange)]
    FakeCloudflare.created.clear()
    assert not problems, "exchanges that disagree with Cloudflare's schema:\n" + "\n".join(problems)


@pytest.fixture
def fake() -> FakeCloudflare:
    return FakeCloudflare()


@pytest.fixture
def cf_settings(tmp_path) -> Settings:
    """Settings for a Cloudflare account (the fake's), ignoring any .env of the developer."""
    return Settings(_env_file=None, CLOUDFLARE_API_TOKEN=TOKEN, CLOUDFLARE_ACCOUNT_ID=ACCOUNT,
                    GATEWAY_TARGET="cloudflare", GATEWAY_STATE_DIR=tmp_path / "state")


@pytest.fixture
def client(fake, cf_settings):
    return make_client(cf_settings, http_client=fake.http_client())


@pytest.fixture
def worker_copy(tmp_path) -> Path:
    """tmp/worker/wrangler.toml (the committed one) and tmp/migrations (the real files)."""
    worker = tmp_path / "worker"
    worker.mkdir()
    shutil.copy(WORKER_DIR / "wrangler.toml", worker / "wrangler.toml")
    shutil.copytree(MIGRATIONS_DIR, tmp_path / "migrations")
    return worker


@pytest.fixture
def fake_wrangler(tmp_path) -> Path:
    """An executable that prints what wrangler 4.86 prints (see fake_wrangler.py); no network."""
    path = tmp_path / "bin" / "wrangler"
    path.parent.mkdir()
    path.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE_WRANGLER} \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def no_cloudflare_env(monkeypatch):
    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "USER_KEY_SECRET", "IP_HASH_SALT", "OPENCLAW_URL",
                 "AUTH_MODE"):
        monkeypatch.delenv(name, raising=False)
    return os.environ
