"""Where the admin token comes from: ``ADMIN_TOKEN``, or the local stack's own token file.

For the local stack, when ``ADMIN_TOKEN`` is not set, ``gateway-ops up`` (and the tests' stack)
generates a random token once into ``GATEWAY_STATE_DIR/admin_token`` (mode 0600, owner only),
hands it to the local Worker, and local commands read it from there. The token is never printed.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the local stack imports this module: keep it free of pydantic
    from ..settings import Settings

TOKEN_FILE = "admin_token"


def token_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / TOKEN_FILE


def read_local_token(state_dir: str | Path) -> str | None:
    """The local stack's admin token, or None when none was generated (or the file is empty)."""
    try:
        token = token_path(state_dir).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return token or None


def ensure_local_token(state_dir: str | Path) -> str:
    """The local stack's admin token, generated (32 random bytes, base64url) on first use.

    The file is created with mode 0600 in one step, so the token is never readable by others.
    """
    found = read_local_token(state_dir)
    if found:
        return found
    path = token_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)  # an existing empty file keeps its mode through O_CREAT
    return token


def find_admin_token(settings: Settings, target: str | None = None) -> str | None:
    """ADMIN_TOKEN from the settings; else, for the local target, the state folder's token file."""
    if settings.ADMIN_TOKEN is not None and settings.ADMIN_TOKEN.get_secret_value():
        return settings.ADMIN_TOKEN.get_secret_value()
    if (target or settings.GATEWAY_TARGET) == "local":
        return read_local_token(settings.GATEWAY_STATE_DIR)
    return None


def missing_token_sentence(settings: Settings, target: str | None = None) -> str:
    """What to do when no token is found, for this target."""
    if (target or settings.GATEWAY_TARGET) == "local":
        return (f"No admin token: ADMIN_TOKEN is not set and {token_path(settings.GATEWAY_STATE_DIR)} does not exist — "
                f"start the local stack with `gateway-ops up` (it writes one there), or export ADMIN_TOKEN.")
    return ("No admin token: export ADMIN_TOKEN (the value set on the Worker with "
            "`gateway-ops secrets set ADMIN_TOKEN --from-env ADMIN_TOKEN`).")
