"""The Worker's secrets, through the SDK — values go in, only names ever come out.

Values are handled as ``pydantic.SecretStr`` (prints ``**********``) and are unwrapped only in
the one call that sends them. Nothing here logs or returns a value. A secret set before the
first deploy needs a Worker to attach to: like ``wrangler secret put``, ``put_secret`` then
uploads a placeholder Worker (it answers 503 "not deployed yet") that ``gateway-ops deploy``
replaces, keeping the secrets.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from secrets import token_urlsafe
from typing import Any
from urllib.parse import urlparse

from pydantic import SecretStr

from ..exceptions import SettingsError
from ..paths import PROJECT_ROOT
from ..private_files import write_private
from ..results import Check
from .errors import CloudflareNotFoundError, CloudflareRequestError, cloudflare_errors
from .resources import WORKERS_PERMISSION

#: The Worker's secrets (README, "Configuration"); the first two are required for the gateway to work.
#: ADMIN_TOKEN opens the admin API (event controls): keep the same value in your ADMIN_TOKEN.
SECRET_NAMES = ("OPENCLAW_URL", "AUTH_MODE", "USER_KEY_SECRET", "IP_HASH_SALT", "ADMIN_TOKEN")
REQUIRED_SECRETS = ("OPENCLAW_URL", "AUTH_MODE")
#: Secrets that are random keys, so gateway_ops can generate them when asked.
GENERATED_SECRETS = ("USER_KEY_SECRET", "IP_HASH_SALT")
AUTH_MODES = ("openai", "codex")
WORKER_NOT_FOUND = 10007
VERSION_NOT_DEPLOYED = 10215
ENV_FILE = PROJECT_ROOT / ".env"
PLACEHOLDER_MODULE = "placeholder.js"
PLACEHOLDER_SOURCE = (
    'export default { fetch() { return new Response("organized-gateway is not deployed yet: '
    'run gateway-ops deploy.", { status: 503 }); } };\n'
)


def generate_secret() -> SecretStr:
    """A fresh random key (256 bits, URL-safe), for USER_KEY_SECRET or IP_HASH_SALT."""
    return SecretStr(token_urlsafe(32))


def validate_secret(name: str, value: SecretStr | str) -> None:
    """Refuses values the Worker could not use, without ever quoting the value.

    :raises SettingsError: for an unknown name, an empty value, a bad URL or AUTH_MODE
    """
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SettingsError(f"{name!r} is not a valid secret name: use letters, digits and '_' (e.g. OPENCLAW_URL).")
    if not raw or raw != raw.strip():
        raise SettingsError(f"The value for {name} is empty or has leading/trailing spaces: enter it again.")
    if name == "OPENCLAW_URL":
        parsed = urlparse(raw)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError("OPENCLAW_URL must be the origin's http(s) base URL, e.g. https://mac-mini.example.ts.net.")
    if name == "AUTH_MODE" and raw not in AUTH_MODES:
        raise SettingsError(f"AUTH_MODE must be one of {', '.join(AUTH_MODES)}.")


def create_placeholder_worker(client: Any, account_id: str, script_name: str) -> None:
    """Uploads a Worker that answers 503 until the first deploy, so secrets have something to attach to."""
    with cloudflare_errors(f"creating a placeholder Worker {script_name!r} to hold its secrets", WORKERS_PERMISSION):
        client.workers.scripts.update(
            script_name, account_id=account_id, metadata={"main_module": PLACEHOLDER_MODULE},
            files=[(PLACEHOLDER_MODULE, PLACEHOLDER_SOURCE.encode(), "application/javascript+module")],
        )


@contextmanager
def _sdk_debug_log_off() -> Iterator[None]:
    """The SDK logs each request's JSON body at DEBUG level — a secret's value included. Keep its
    logger at INFO or above while a value is in flight, whatever the caller's logging setup."""
    sdk_logger = logging.getLogger("cloudflare")
    previous = sdk_logger.level
    if sdk_logger.isEnabledFor(logging.DEBUG):
        sdk_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        sdk_logger.setLevel(previous)


def _put(client: Any, account_id: str, script_name: str, name: str, value: SecretStr) -> None:
    with _sdk_debug_log_off(), cloudflare_errors(f"setting the Worker secret {name}", WORKERS_PERMISSION):
        client.workers.scripts.secrets.update(script_name, account_id=account_id, name=name,
                                              text=value.get_secret_value(), type="secret_text")


def put_secret(client: Any, account_id: str, script_name: str, name: str, value: SecretStr | str) -> bool:
    """Sets one secret on the Worker; returns True when a placeholder Worker had to be created first.

    :raises SettingsError: for a value the Worker could not use
    :raises CloudflareError: for the API's refusals, one sentence each
    """
    value = value if isinstance(value, SecretStr) else SecretStr(value)
    validate_secret(name, value)
    try:
        _put(client, account_id, script_name, name, value)
        return False
    except CloudflareNotFoundError as error:
        if WORKER_NOT_FOUND not in error.codes:
            raise
    except CloudflareRequestError as error:
        if VERSION_NOT_DEPLOYED in error.codes:
            raise CloudflareRequestError(
                f"The Worker's latest version is not deployed, so Cloudflare will not change its secrets: run "
                f"`gateway-ops deploy`, then set {name} again."
            ) from None
        raise
    create_placeholder_worker(client, account_id, script_name)
    _put(client, account_id, script_name, name, value)
    return True


def list_secret_names(client: Any, account_id: str, script_name: str) -> list[str]:
    """Names of the secrets set on the Worker ([] before it exists). Values are never returned by the API."""
    try:
        with cloudflare_errors("listing the Worker's secrets", WORKERS_PERMISSION):
            return sorted(secret.name for secret in client.workers.scripts.secrets.list(script_name, account_id=account_id))
    except CloudflareNotFoundError as error:
        if WORKER_NOT_FOUND in error.codes:
            return []
        raise


def secrets_from_environment(environ: Mapping[str, str] | None = None,
                             names: Iterable[str] = SECRET_NAMES) -> dict[str, SecretStr]:
    """The secrets present (and non-empty) in the environment, wrapped so they print redacted."""
    environ = os.environ if environ is None else environ
    return {name: SecretStr(environ[name]) for name in names if environ.get(name)}


def save_to_env_file(name: str, value: SecretStr, path: Path = ENV_FILE) -> Path:
    """Keeps a generated secret in ``.env`` (mode 600, git-ignored) so gateway_ops can use it later
    (``attendees keys`` needs USER_KEY_SECRET). Replaces an existing line for ``name``; the file is
    replaced whole (``private_files.write_private``), never left half-written or readable by others."""
    path = Path(path)
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [line for line in lines if not re.match(rf"\s*(export\s+)?{re.escape(name)}\s*=", line)]
    lines.append(f"{name}={value.get_secret_value()}")
    return write_private(path, "\n".join(lines) + "\n")


@dataclass(frozen=True)
class SecretAction:
    """What happened to one secret (never its value)."""

    name: str
    action: str


def sync_secrets(client: Any, account_id: str, script_name: str, values: Mapping[str, SecretStr],
                 generate: Iterable[str] = (), env_file: Path = ENV_FILE) -> list[SecretAction]:
    """Sets every value given; generates each secret in ``generate`` that is neither given nor set yet.

    A generated USER_KEY_SECRET is also saved to ``.env``; an existing generated secret is kept
    (replacing USER_KEY_SECRET would invalidate every attendee key issued with it).
    """
    unknown = [name for name in [*values, *generate] if name not in SECRET_NAMES]
    if unknown:
        raise SettingsError(f"Unknown secret(s) {', '.join(unknown)}: the Worker uses {', '.join(SECRET_NAMES)}.")
    not_generated = [name for name in generate if name not in GENERATED_SECRETS]
    if not_generated:
        raise SettingsError(f"Only {' and '.join(GENERATED_SECRETS)} can be generated, not {', '.join(not_generated)}.")
    for name, value in values.items():
        validate_secret(name, value)
    actions = []
    for name, value in values.items():
        put_secret(client, account_id, script_name, name, value)
        actions.append(SecretAction(name, "set"))
    already = set(list_secret_names(client, account_id, script_name))
    for name in generate:
        if name not in values:
            actions.append(generate_and_set(client, account_id, script_name, name, env_file=env_file,
                                            already_set=name in already))
    return actions


def generate_and_set(client: Any, account_id: str, script_name: str, name: str, *, replace: bool = False,
                     env_file: Path = ENV_FILE, already_set: bool | None = None) -> SecretAction:
    """Generates ``name`` and sets it — unless it is set already and ``replace`` is False.

    A generated USER_KEY_SECRET is saved to ``.env`` (owner-only) *before* it is sent: attendee
    keys are derived from it, so the Worker must never hold a value that exists nowhere else — as it
    would if the process died, or the connection dropped after Cloudflare applied it, between the
    send and the save. When it replaces the Worker's value, the one ``.env`` held stays there as
    ``USER_KEY_SECRET_PREVIOUS``, so a send that fails loses neither.
    """
    if name not in GENERATED_SECRETS:
        raise SettingsError(f"Only {' and '.join(GENERATED_SECRETS)} can be generated, not {name}.")
    if already_set is None:
        already_set = name in list_secret_names(client, account_id, script_name)
    if already_set and not replace:
        return SecretAction(name, "already set (kept)")
    value = generate_secret()
    if name != "USER_KEY_SECRET":
        put_secret(client, account_id, script_name, name, value)
        return SecretAction(name, "replaced" if already_set else "generated")
    env_file = Path(env_file)
    if already_set:
        keep_previous(name, env_file)
    save_to_env_file(name, value, env_file)
    put_secret(client, account_id, script_name, name, value)
    return SecretAction(name, f"{'replaced' if already_set else 'generated'} (also saved to {env_file.name})")


def keep_previous(name: str, env_file: Path) -> None:
    """Copies ``name``'s value in ``env_file`` (if any) to ``<name>_PREVIOUS`` before it is replaced."""
    from dotenv import dotenv_values

    previous = dotenv_values(env_file).get(name) if env_file.exists() else None
    if previous:
        save_to_env_file(f"{name}_PREVIOUS", SecretStr(previous), env_file)


def secret_checks(names_set: Iterable[str], required: Iterable[str] = REQUIRED_SECRETS,
                  optional: Iterable[str] = ("USER_KEY_SECRET", "IP_HASH_SALT")) -> list[Check]:
    """One check per secret: required ones must be set; optional ones are reported, never failed."""
    present = set(names_set)
    checks = [Check(f"secret {name}", "set", "set" if name in present else "missing", name in present)
              for name in required]
    checks += [Check(f"secret {name}", "optional", "set" if name in present else "not set", True) for name in optional]
    return checks
