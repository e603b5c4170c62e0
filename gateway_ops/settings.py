"""Settings from the environment or a `.env` file — never from notebook parameters.

Tokens are ``SecretStr``: they print as ``**********`` in reprs, logs and notebook outputs, and
only code that needs the value calls ``get_secret_value()`` (the ``user_key_secret``,
``client_api_key`` and ``codex_token`` properties do). ``ADMIN_TOKEN`` opens the Worker's admin
API (the event controls); for the local stack, when it is unset, ``gateway_ops.controls.token``
finds the one ``gateway-ops up`` wrote into the state folder.
"""
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .exceptions import SettingsError
from .paths import DEFAULT_STATE_DIR, PROJECT_ROOT


class Settings(BaseSettings):
    """gateway_ops configuration (the names the README's "Configuration" section lists)."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    CLOUDFLARE_API_TOKEN: SecretStr | None = None
    CLOUDFLARE_ACCOUNT_ID: str | None = None
    GATEWAY_URL: str | None = None
    GATEWAY_TARGET: Literal["local", "cloudflare"] = "local"
    GATEWAY_STATE_DIR: Path = Field(default=DEFAULT_STATE_DIR)
    USER_KEY_SECRET: SecretStr | None = None
    #: The credential the suite's own traffic (smoke, load tests, demo) sends to the origin as
    #: ``Authorization: Bearer …`` — a real origin refuses requests without one.
    GATEWAY_CLIENT_API_KEY: SecretStr | None = None
    #: Codex mode: the token the load tests lend their temporary users (``oauth:{user}`` in KV).
    GATEWAY_CODEX_TOKEN: SecretStr | None = None
    ADMIN_TOKEN: SecretStr | None = None

    @property
    def gateway_url(self) -> str:
        """The gateway to talk to: GATEWAY_URL, or the local stack's default address."""
        return (self.GATEWAY_URL or "http://127.0.0.1:8787").rstrip("/")

    @property
    def user_key_secret(self) -> str | None:
        """USER_KEY_SECRET's value, which signs each attendee's X-User-Key; None when it is not set."""
        return self.USER_KEY_SECRET.get_secret_value() if self.USER_KEY_SECRET else None

    @property
    def client_api_key(self) -> str | None:
        """GATEWAY_CLIENT_API_KEY's value, sent as ``Authorization: Bearer …``; None when it is not set."""
        return _value(self.GATEWAY_CLIENT_API_KEY)

    @property
    def codex_token(self) -> str | None:
        """GATEWAY_CODEX_TOKEN's value, lent to the load tests' users in codex mode; None when it is not set."""
        return _value(self.GATEWAY_CODEX_TOKEN)


def _value(secret: SecretStr | None) -> str | None:
    """The secret's value, or None when unset or blank (an empty ``.env`` line means "not set")."""
    value = secret.get_secret_value().strip() if secret else ""
    return value or None


def load_settings(**overrides) -> Settings:
    """Reads settings, turning a validation failure into one readable sentence.

    :raises SettingsError: when a value is malformed (e.g. GATEWAY_TARGET=prod)
    """
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_input=False)
        )
        raise SettingsError(f"Invalid gateway_ops settings — {problems}.") from None
