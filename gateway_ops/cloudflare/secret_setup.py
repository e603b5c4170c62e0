"""The secrets step of an event (notebook 02): what to set, from where, and whether the Worker has it.

Cloudflare: values come from the environment (or ``.env``) — or, in JupyterLab, from a password
form — and go to the Worker through the SDK; the report lists names and what happened, never a
value. Local: the local stack's Worker takes its settings from the environment when it starts
(``gateway-ops up``), and its OPENCLAW_URL is the simulated origin, so the report says which
settings the environment provides.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from pydantic import SecretStr

from ..cloudflare_api import make_client, require_account_id
from ..exceptions import GatewayOpsError, SettingsError
from ..results import Check
from ..settings import Settings
from .secrets import (
    AUTH_MODES,
    ENV_FILE,
    SECRET_NAMES,
    SecretAction,
    list_secret_names,
    put_secret,
    secret_checks,
    secrets_from_environment,
    sync_secrets,
)
from .wrangler_toml import WRANGLER_TOML, read_config


@dataclass
class SecretsReport:
    """Per secret: whether it is set, and what this run did. Names only."""

    target: str
    names_set: list[str]
    checks: list[Check]
    actions: list[SecretAction] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return [c.name.removeprefix("secret ") for c in self.checks if not c.passed]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def frame(self) -> pd.DataFrame:
        done = {a.name: a.action for a in self.actions}
        return pd.DataFrame([{"secret": c.name.removeprefix("secret "), "status": c.observed,
                              "required": c.expected == "set", "this run": done.get(c.name.removeprefix("secret "), "")}
                             for c in self.checks], columns=["secret", "status", "required", "this run"])


def environment_with_env_file(env_file: Path = ENV_FILE) -> dict[str, str]:
    """The process environment over the project's ``.env`` (the environment wins, as in settings)."""
    from dotenv import dotenv_values

    from_file = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if Path(env_file).exists() else {}
    return {**from_file, **os.environ}


def secret_values(environ: Mapping[str, str] | None = None, auth_mode: str = "") -> dict[str, SecretStr]:
    """The values to set: every secret found in ``environ`` (default: the environment over ``.env``);
    AUTH_MODE from ``auth_mode`` when given, else ``environ``, else ``openai``."""
    values = secrets_from_environment(environment_with_env_file() if environ is None else environ)
    if auth_mode:
        values["AUTH_MODE"] = SecretStr(auth_mode)
    values.setdefault("AUTH_MODE", SecretStr("openai"))
    return values


def local_secret_checks(environ: Mapping[str, str] | None = None, auth_mode: str = "") -> list[Check]:
    """What the local Worker gets from the environment at `gateway-ops up` (names, never values)."""
    environ = os.environ if environ is None else environ
    mode = auth_mode or environ.get("AUTH_MODE") or "openai"
    checks = [
        Check("secret OPENCLAW_URL", "set", "set by the local stack (the simulated origin, or --upstream-url)", True),
        Check("secret AUTH_MODE", "set", f"{mode}" + ("" if mode in AUTH_MODES else " (must be openai or codex)"),
              mode in AUTH_MODES),
    ]
    for name in ("USER_KEY_SECRET", "IP_HASH_SALT"):
        checks.append(Check(f"secret {name}", "optional", "set in the environment" if environ.get(name) else "not set",
                            True))
    return checks


def configure_secrets(settings: Settings, target: str | None = None, *, auth_mode: str = "",
                      generate: Iterable[str] = (), environ: Mapping[str, str] | None = None,
                      http_client: httpx.Client | None = None, toml_path: Path = WRANGLER_TOML,
                      env_file: Path = ENV_FILE) -> SecretsReport:
    """Sets what the environment provides (and generates what is asked for), then reports names only."""
    target = target or settings.GATEWAY_TARGET
    if auth_mode and auth_mode not in AUTH_MODES:
        raise SettingsError(f"auth_mode must be one of {', '.join(AUTH_MODES)}.")
    if target == "local":
        environ = os.environ if environ is None else environ
        provided = [name for name in ("USER_KEY_SECRET", "IP_HASH_SALT") if environ.get(name)]
        return SecretsReport("local", ["OPENCLAW_URL", "AUTH_MODE", *provided], local_secret_checks(environ, auth_mode))
    if target != "cloudflare":
        raise SettingsError(f"Unknown target {target!r}: use 'local' or 'cloudflare'.")
    client = make_client(settings, http_client)
    account = require_account_id(settings)
    script = read_config(toml_path).worker_name
    environ = environment_with_env_file(env_file) if environ is None else environ
    actions = sync_secrets(client, account, script, secret_values(environ, auth_mode), generate=generate,
                           env_file=env_file)
    names = list_secret_names(client, account, script)
    return SecretsReport("cloudflare", names, secret_checks(names), actions)


def secret_form(settings: Settings, names: Iterable[str] = SECRET_NAMES, *, toml_path: Path = WRANGLER_TOML,
                http_client: httpx.Client | None = None) -> Any:
    """Password fields and a button that set secrets on the Worker (for JupyterLab). The value is
    cleared from the field once sent and is never displayed or stored in the notebook."""
    import ipywidgets as widgets

    names = [n for n in names if n in SECRET_NAMES]
    fields = {name: widgets.Password(description=name, style={"description_width": "140px"},
                                     layout=widgets.Layout(width="520px")) for name in names}
    button = widgets.Button(description="Set on the Worker", button_style="primary")
    status = widgets.HTML("Type a value, then press the button. Values are sent to Cloudflare and never shown.")

    def send(_: Any) -> None:
        client = make_client(settings, http_client)
        account = require_account_id(settings)
        script = read_config(toml_path).worker_name
        done = []
        for name, box in fields.items():
            if box.value:
                value, box.value = SecretStr(box.value), ""
                try:
                    put_secret(client, account, script, name, value)
                    done.append(f"{name} ✓")
                except GatewayOpsError as error:  # shown in the form, one sentence, never the value
                    done.append(f"{name}: {error}")
        status.value = "; ".join(done) or "Nothing to send: every field is empty."

    button.on_click(send)
    return widgets.VBox([*fields.values(), button, status])
