"""Cloudflare failures as one sentence a facilitator can act on.

The SDK raises typed errors (``AuthenticationError``, ``PermissionDeniedError``, …). They are
translated here, at the boundary, into ``GatewayOpsError`` subclasses — the way httpx maps
httpcore's exceptions in ``map_httpcore_exceptions()`` — so no caller above this layer imports
``cloudflare`` just to catch its errors, and the CLI can print ``str(error)``. Their place in
the hierarchy (all under ``CloudflareError``) is drawn once, with every other error, in
``gateway_ops/exceptions.py``.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..exceptions import GatewayOpsError

#: Where a facilitator edits a token's permissions.
TOKENS_PAGE = "https://dash.cloudflare.com/profile/api-tokens"


class CloudflareError(GatewayOpsError):
    """Something went wrong talking to Cloudflare."""

    #: Cloudflare's error codes from the response envelope (e.g. 10007), for callers that branch.
    codes: tuple[int, ...] = ()
    #: Cloudflare's own words from that envelope ("code 7500: near ...: syntax error").
    detail: str = ""


class CloudflareAuthError(CloudflareError):
    """The API token is missing, malformed, expired or revoked."""


class CloudflarePermissionError(CloudflareError):
    """The token lacks a permission, or CLOUDFLARE_ACCOUNT_ID is not its account."""


class CloudflareNotFoundError(CloudflareError):
    """The account, Worker, KV namespace or D1 database does not exist."""


class CloudflareRequestError(CloudflareError):
    """Cloudflare refused the request as invalid."""


class CloudflareRateLimitError(CloudflareError):
    """Cloudflare's API rate limit was reached."""


class CloudflareServerError(CloudflareError):
    """Cloudflare's API failed on its side."""


class CloudflareNetworkError(CloudflareError):
    """Cloudflare's API could not be reached or did not answer in time."""


class NameClashError(CloudflareError):
    """wrangler.toml names a resource id that disagrees with the account."""


class PreflightError(CloudflareError):
    """The token cannot do what bootstrap needs."""


class MigrationError(CloudflareError):
    """A D1 migration failed and was rolled back."""


class WranglerError(CloudflareError):
    """wrangler failed or timed out (any command run through ``cloudflare.wrangler``)."""


class WranglerNotInstalledError(WranglerError):
    """The Worker's packages (and so wrangler) are not installed."""


def cloudflare_detail(error: Any) -> str:
    """Cloudflare's own words from an error envelope: ``code 10000: Authentication error``."""
    parts = []
    for item in getattr(error, "errors", None) or []:
        code = getattr(item, "code", None)
        message = (getattr(item, "message", None) or "").strip().rstrip(".")
        parts.append(f"code {code}: {message}" if code is not None else message)
    return "; ".join(p for p in parts if p)[:300]


def error_codes(error: Any) -> tuple[int, ...]:
    return tuple(int(item.code) for item in getattr(error, "errors", None) or [] if getattr(item, "code", None) is not None)


def translate(error: Exception, action: str, permission: str | None = None) -> CloudflareError:
    """The GatewayOpsError for an SDK error raised while doing ``action`` (e.g. "listing KV namespaces").

    :param permission: the token permission the action needs, named as the dashboard names it
        ("Workers KV Storage Edit"), so a 403 says exactly what to add
    """
    import cloudflare

    detail = cloudflare_detail(error)
    said = f" (Cloudflare said: {detail})" if detail else ""
    status = getattr(error, "status_code", None)
    if isinstance(error, cloudflare.APITimeoutError):
        translated: CloudflareError = CloudflareNetworkError(
            f"Cloudflare's API did not answer in time while {action}: check the network connection and try again."
        )
    elif isinstance(error, cloudflare.APIConnectionError):
        translated = CloudflareNetworkError(
            f"Could not reach Cloudflare's API (api.cloudflare.com) while {action}: check the network connection, "
            "proxy or DNS, and try again."
        )
    elif isinstance(error, cloudflare.AuthenticationError):
        translated = CloudflareAuthError(
            f"Cloudflare rejected the API token while {action}{said}: check that CLOUDFLARE_API_TOKEN holds the whole "
            f"token and that it has not expired or been revoked ({TOKENS_PAGE})."
        )
    elif isinstance(error, cloudflare.PermissionDeniedError):
        needed = f"the {permission} permission" if permission else "the permission this needs"
        translated = CloudflarePermissionError(
            f"The API token is not allowed to do this ({action}){said}: give it {needed} for this account at "
            f"{TOKENS_PAGE}, and check that CLOUDFLARE_ACCOUNT_ID is the account the token belongs to."
        )
    elif isinstance(error, cloudflare.NotFoundError):
        translated = CloudflareNotFoundError(
            f"Cloudflare found nothing there while {action}{said}: check CLOUDFLARE_ACCOUNT_ID (the 32-character id "
            "on the dashboard's Workers overview)."
        )
    elif isinstance(error, cloudflare.RateLimitError):
        translated = CloudflareRateLimitError(
            f"Cloudflare's API rate limit was reached while {action}: wait a minute and run the same command again "
            "(it is safe to repeat)."
        )
    elif isinstance(error, cloudflare.InternalServerError):
        translated = CloudflareServerError(
            f"Cloudflare's API failed while {action} (HTTP {status}){said}: try again in a few minutes; "
            "https://www.cloudflarestatus.com lists incidents."
        )
    elif isinstance(error, cloudflare.APIStatusError):
        translated = CloudflareRequestError(
            f"Cloudflare refused the request while {action} (HTTP {status}){said}: fix what that message names and "
            "try again."
        )
    else:  # APIResponseValidationError and anything the SDK adds later
        translated = CloudflareError(f"Cloudflare's answer could not be read while {action}: {error}.")
    translated.codes = error_codes(error)
    translated.detail = detail
    return translated


@contextmanager
def cloudflare_errors(action: str, permission: str | None = None) -> Iterator[None]:
    """``with cloudflare_errors("creating the D1 database", "D1 Edit"): ...`` — SDK errors become one sentence."""
    import cloudflare

    try:
        yield
    except cloudflare.APIError as error:
        raise translate(error, action, permission) from None
