"""Cloudflare operations: bootstrap, secrets, deploy, preflight — through the official SDK, and
wrangler only where it is the right tool (bundling, deploying, tailing).

    preflight  → can the token do it, will the event fit the plan?
    bootstrap  → find-or-create KV + D1, ids into wrangler.toml, D1 migrations (or the local stack)
    secrets    → Worker secrets in, names out
    deploy     → wrangler deploy, then the smoke test against the deployed URL

Every SDK error leaves this package as a one-sentence ``CloudflareError`` (see ``errors``).
The entry points that share a module's name (``bootstrap.bootstrap``, ``deploy.deploy``,
``deploy.tail``, ``preflight.preflight``) are imported from their modules, so that
``gateway_ops.cloudflare.bootstrap`` stays the module.
"""
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

__all__ = [
    "BootstrapReport", "CloudflareAuthError", "CloudflareError", "CloudflareNetworkError", "CloudflareNotFoundError",
    "CloudflarePermissionError", "CloudflareRateLimitError", "CloudflareRequestError", "CloudflareServerError",
    "DeployResult", "Deployment", "EventPlan", "MigrationError", "Migrator", "NameClashError", "PreflightError",
    "SECRET_NAMES", "WranglerError", "WranglerNotInstalledError", "bootstrap_cloudflare",
    "bootstrap_local", "check_token", "deploy_and_smoke", "generate_and_set", "list_secret_names",
    "local_executor", "max_attendees", "migration_files", "parse_deploy_output", "plan_checks",
    "put_secret", "remote_executor", "secret_checks", "secrets_from_environment", "sync_secrets",
]
