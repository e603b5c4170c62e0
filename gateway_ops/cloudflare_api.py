"""The boundary with Cloudflare's REST API: one configured SDK client, and the settings it needs.

Fails fast for a facilitator (one retry, 10 s timeout) instead of the SDK's defaults, which can
wait minutes on an unreachable API. Bootstrap, secrets and deploy build on this module.
"""
from __future__ import annotations

from pathlib import Path

import httpx
import tomlkit

from .exceptions import SettingsError
from .paths import WORKER_DIR
from .settings import Settings

WRANGLER_TOML = WORKER_DIR / "wrangler.toml"


def make_client(settings: Settings, http_client: httpx.Client | None = None):
    """A ``cloudflare.Cloudflare`` client from settings (``http_client`` lets tests fake the API)."""
    import cloudflare

    if settings.CLOUDFLARE_API_TOKEN is None:
        raise SettingsError("CLOUDFLARE_API_TOKEN is not set: put it in the environment or in .env.")
    return cloudflare.Cloudflare(
        api_token=settings.CLOUDFLARE_API_TOKEN.get_secret_value(),
        max_retries=1,
        timeout=httpx.Timeout(10, connect=3),
        http_client=http_client,
    )


def require_account_id(settings: Settings) -> str:
    if not settings.CLOUDFLARE_ACCOUNT_ID:
        raise SettingsError("CLOUDFLARE_ACCOUNT_ID is not set: put it in the environment or in .env.")
    return settings.CLOUDFLARE_ACCOUNT_ID


def _binding_field(config_path: Path, section: str, binding: str, field: str) -> str | None:
    """``field`` of the ``[[section]]`` entry whose binding is ``binding`` in wrangler.toml, if set."""
    config = tomlkit.parse(config_path.read_text())
    for entry in config.get(section, []):
        if entry.get("binding") == binding and entry.get(field):
            return str(entry[field])
    return None


def d1_database_id(config_path: Path = WRANGLER_TOML) -> str:
    """The D1 database id that bootstrap wrote into wrangler.toml."""
    found = _binding_field(config_path, "d1_databases", "DB", "database_id")
    if not found:
        raise SettingsError("wrangler.toml has no D1 database_id yet: run `gateway-ops bootstrap --target cloudflare` first.")
    return found


def cloudflare_access_log(settings: Settings, http_client: httpx.Client | None = None):
    from .accesslog import CloudflareAccessLog

    return CloudflareAccessLog(make_client(settings, http_client), require_account_id(settings), d1_database_id())


def kv_namespace_id(config_path: Path = WRANGLER_TOML) -> str:
    """The GATEWAY_KV namespace id that bootstrap wrote into wrangler.toml."""
    found = _binding_field(config_path, "kv_namespaces", "GATEWAY_KV", "id")
    if not found:
        raise SettingsError("wrangler.toml has no GATEWAY_KV id yet: run `gateway-ops bootstrap --target cloudflare` first.")
    return found
