"""Applying the gate's setting, ``ORIGIN_MAX_CONCURRENCY``, to the local stack or to Cloudflare.

``gateway-ops loadtest capacity`` recommends a value (``loadtest.concurrency``); this module puts it
where the Worker reads it:

* **local** — the file ``origin_max_concurrency`` in the state folder. ``gateway-ops up`` passes it
  to the local Worker (``stack.py``) unless ``ORIGIN_MAX_CONCURRENCY`` is set in its environment,
  which wins as for every other setting. The local runtime reads bindings when it starts, so a
  running stack takes the value at its next start.
* **cloudflare** — a Worker secret through the secrets path (``cloudflare.secrets.put_secret``):
  Cloudflare deploys a new version with it at once, and later ``wrangler deploy`` runs keep it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .exceptions import SettingsError

NAME = "ORIGIN_MAX_CONCURRENCY"
#: The state-folder file that holds the local stack's value (read by ``stack.LocalStack``).
LOCAL_FILE = "origin_max_concurrency"
_VALUE = re.compile(r"[1-9]\d{0,5}(,[1-9]\d{0,5})*")


def parse_concurrency(text: str) -> str:
    """``"4"`` (every origin) or ``"4,2"`` (one per origin, OPENCLAW_URL's order), spaces removed.

    :raises SettingsError: for anything else (0, negatives, words)
    """
    value = re.sub(r"\s+", "", str(text))
    if not _VALUE.fullmatch(value):
        raise SettingsError(f"{NAME} must be a whole number ≥ 1, or one per origin separated by commas "
                            f"(e.g. 4 or 4,2) — got {text!r}.")
    return value


def read_local(state_dir: str | Path) -> str | None:
    """The local stack's value from the state folder, or None when none was set."""
    path = Path(state_dir) / LOCAL_FILE
    if not path.is_file():
        return None
    text = path.read_text().strip()
    return parse_concurrency(text) if text else None


def set_local(state_dir: str | Path, value: str) -> Path:
    """Writes the value the next ``gateway-ops up`` passes to the local Worker; returns the file."""
    value = parse_concurrency(value)
    path = Path(state_dir) / LOCAL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n")
    return path


def clear_local(state_dir: str | Path) -> bool:
    """Removes the local value (the next stack runs without a gate); True when there was one."""
    path = Path(state_dir) / LOCAL_FILE
    existed = path.is_file()
    path.unlink(missing_ok=True)
    return existed


def set_on_cloudflare(client: Any, account_id: str, script_name: str, value: str) -> bool:
    """Sets ``ORIGIN_MAX_CONCURRENCY`` on the deployed Worker as a secret (the secrets path);
    returns True when a placeholder Worker had to be created first (nothing deployed yet)."""
    from .cloudflare.secrets import put_secret

    return put_secret(client, account_id, script_name, NAME, parse_concurrency(value))
