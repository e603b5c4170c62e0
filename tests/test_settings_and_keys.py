"""Settings keep tokens secret; user keys match the Worker's construction byte for byte."""
from __future__ import annotations

import pytest

from gateway_ops.exceptions import SettingsError
from gateway_ops.keys import user_key
from gateway_ops.settings import load_settings


def test_tokens_print_redacted(monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "cf-very-secret-token")
    monkeypatch.setenv("USER_KEY_SECRET", "event-secret")
    settings = load_settings()
    shown = repr(settings) + str(settings) + str(settings.model_dump())
    assert "cf-very-secret-token" not in shown and "event-secret" not in shown
    assert settings.CLOUDFLARE_API_TOKEN is not None
    assert settings.CLOUDFLARE_API_TOKEN.get_secret_value() == "cf-very-secret-token"


def test_the_user_key_secret_is_unwrapped_in_one_place(monkeypatch):
    monkeypatch.setenv("USER_KEY_SECRET", "event-secret")
    assert load_settings(_env_file=None).user_key_secret == "event-secret"
    monkeypatch.delenv("USER_KEY_SECRET")
    assert load_settings(_env_file=None).user_key_secret is None


def test_settings_come_from_a_dotenv_file(tmp_path, monkeypatch):
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    (tmp_path / ".env").write_text("GATEWAY_URL=http://127.0.0.1:9999/\nGATEWAY_TARGET=cloudflare\n")
    settings = load_settings(_env_file=tmp_path / ".env")
    assert settings.gateway_url == "http://127.0.0.1:9999"
    assert settings.GATEWAY_TARGET == "cloudflare"


def test_a_malformed_setting_is_one_sentence(monkeypatch):
    monkeypatch.setenv("GATEWAY_TARGET", "prod")
    with pytest.raises(SettingsError, match="GATEWAY_TARGET: Input should be 'local' or 'cloudflare'"):
        load_settings()


@pytest.mark.parametrize(
    "secret, user, key",
    [  # the same vectors as worker/test/units.test.ts
        ("workshop-secret", "alice", "aHTf5YX_hhiqNI8I2W0WlJfkT0qeBXGKwDHjwwBHpTY"),
        ("s3cr3t-ünïcode", "bob@example.org", "ZiuhHTk7xLwLQB6N-YNWdPJHZT4pAIO__FjK0NfKiFA"),
    ],
)
def test_user_keys_match_the_workers_vectors(secret, user, key):
    assert user_key(secret, user) == key
