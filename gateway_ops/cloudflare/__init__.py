"""Cloudflare operations: bootstrap, secrets, deploy, preflight — through the official SDK, and
wrangler only where it is the right tool (bundling, deploying, tailing, the local stack's storage).

    preflight     → can the token do it, will the event fit the plan?
    bootstrap     → find-or-create KV + D1, ids into wrangler.toml, D1 migrations (or the local stack)
    secrets       → Worker secrets in, names out
    deploy        → wrangler deploy, then the smoke test against the deployed URL
    wrangler      → the one module that runs wrangler (arguments, environment, timeouts, errors)
    wrangler_toml → the one reader (and writer) of worker/wrangler.toml; the binding names

Every SDK error leaves this package as a one-sentence ``CloudflareError`` (see ``errors``).
The names below are imported lazily (PEP 562), as in ``gateway_ops/__init__.py``: the local
stack imports ``wrangler`` without loading the SDK, bootstrap or the migrator. The entry points
that share a module's name (``bootstrap.bootstrap``, ``deploy.deploy``, ``deploy.tail``,
``preflight.preflight``) are imported from their modules, so that
``gateway_ops.cloudflare.bootstrap`` stays the module.
"""
from typing import TYPE_CHECKING

from ..lazy import lazy_exports

_EXPORTS = {
    "BootstrapReport": "bootstrap",
    "bootstrap_cloudflare": "bootstrap",
    "bootstrap_local": "bootstrap",
    "Deployment": "deploy",
    "DeployResult": "deploy",
    "deploy_and_smoke": "deploy",
    "parse_deploy_output": "deploy",
    "CloudflareAuthError": "errors",
    "CloudflareError": "errors",
    "CloudflareNetworkError": "errors",
    "CloudflareNotFoundError": "errors",
    "CloudflarePermissionError": "errors",
    "CloudflareRateLimitError": "errors",
    "CloudflareRequestError": "errors",
    "CloudflareServerError": "errors",
    "MigrationError": "errors",
    "NameClashError": "errors",
    "PreflightError": "errors",
    "WranglerError": "errors",
    "WranglerNotInstalledError": "errors",
    "Migrator": "migrator",
    "local_executor": "migrator",
    "migration_files": "migrator",
    "remote_executor": "migrator",
    "EventPlan": "preflight",
    "check_token": "preflight",
    "max_attendees": "preflight",
    "plan_checks": "preflight",
    "SECRET_NAMES": "secrets",
    "generate_and_set": "secrets",
    "list_secret_names": "secrets",
    "put_secret": "secrets",
    "secret_checks": "secrets",
    "secrets_from_environment": "secrets",
    "sync_secrets": "secrets",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from .bootstrap import BootstrapReport, bootstrap_cloudflare, bootstrap_local
    from .deploy import Deployment, DeployResult, deploy_and_smoke, parse_deploy_output
    from .errors import (
        CloudflareAuthError,
        CloudflareError,
        CloudflareNetworkError,
        CloudflareNotFoundError,
        CloudflarePermissionError,
        CloudflareRateLimitError,
        CloudflareRequestError,
        CloudflareServerError,
        MigrationError,
        NameClashError,
        PreflightError,
        WranglerError,
        WranglerNotInstalledError,
    )
    from .migrator import Migrator, local_executor, migration_files, remote_executor
    from .preflight import EventPlan, check_token, max_attendees, plan_checks
    from .secrets import (
        SECRET_NAMES,
        generate_and_set,
        list_secret_names,
        put_secret,
        secret_checks,
        secrets_from_environment,
        sync_secrets,
    )
