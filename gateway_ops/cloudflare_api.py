"""The boundary with Cloudflare's REST API: one configured SDK client, and the settings it needs.

Fails fast for a facilitator (one retry, 10 s timeout) instead of the SDK's defaults, which can
wait minutes on an unreachable API. Bootstrap, secrets, deploy and the remote access log build on
this module; the resource ids come from ``cloudflare.wrangler_toml``.
"""
from __future__ import annotations

import httpx

from .exceptions import SettingsError
from .settings import Settings


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
