"""Worker secrets: values go to Cloudflare and nowhere else; only names come back."""
from __future__ import annotations

import logging
import os
import re
import stat

import pytest
from pydantic import SecretStr

from gateway_ops.cloudflare import secrets
from gateway_ops.exceptions import SettingsError

from .fake_cloudflare import ACCOUNT, error_response

SCRIPT = "organized-gateway"
URL_VALUE = "https://mac-mini.tail0a1b2.ts.net/secret-path-7QzX"


def test_setting_a_secret_before_the_first_deploy_creates_a_placeholder_worker(fake, client):
    assert secrets.put_secret(client, ACCOUNT, SCRIPT, "OPENCLAW_URL", URL_VALUE) is True
    assert fake.scripts[SCRIPT]["uploads"] == 1
    assert fake.scripts[SCRIPT]["secrets"] == {"OPENCLAW_URL": URL_VALUE}
    upload = next(r for r in fake.requests if r.method == "PUT" and r.path.endswith(f"/scripts/{SCRIPT}"))
    assert b"placeholder.js" in upload.body and b"not deployed yet" in upload.body
    assert secrets.put_secret(client, ACCOUNT, SCRIPT, "AUTH_MODE", "openai") is False
    assert fake.scripts[SCRIPT]["uploads"] == 1  # the second secret reuses the Worker


def test_listing_returns_names_only(fake, client):
    assert secrets.list_secret_names(client, ACCOUNT, SCRIPT) == []  # no Worker yet: nothing set
    secrets.put_secret(client, ACCOUNT, SCRIPT, "OPENCLAW_URL", URL_VALUE)
    secrets.put_secret(client, ACCOUNT, SCRIPT, "AUTH_MODE", "codex")
    assert secrets.list_secret_names(client, ACCOUNT, SCRIPT) == ["AUTH_MODE", "OPENCLAW_URL"]


@pytest.mark.parametrize("name, value, words", [
    ("OPENCLAW_URL", "mac-mini:18789", "must be the origin's http(s) base URL"),
    ("AUTH_MODE", "oauth", "AUTH_MODE must be one of openai, codex"),
    ("IP_HASH_SALT", "", "empty or has leading/trailing spaces"),
    ("USER_KEY_SECRET", " padded ", "empty or has leading/trailing spaces"),
    ("bad-name", "value-7Q", "is not a valid secret name"),
])
def test_bad_values_are_refused_before_anything_is_sent_and_never_quoted(fake, client, name, value, words):
    with pytest.raises(SettingsError, match=re.escape(words)) as caught:
        secrets.put_secret(client, ACCOUNT, SCRIPT, name, value)
    assert fake.requests == []
    if value.strip():
        assert value.strip() not in str(caught.value)


def test_a_worker_whose_latest_version_is_not_deployed_says_what_to_do(fake, client):
    fake.scripts[SCRIPT] = {"secrets": {}, "uploads": 1}
    fake.inject("PUT", r"/secrets$", error_response(400, 10215, "Secret edit failed. Latest version not deployed."))
    with pytest.raises(Exception, match=r"latest version is not deployed.*run `gateway-ops deploy`, then set "
                                        r"OPENCLAW_URL again"):
        secrets.put_secret(client, ACCOUNT, SCRIPT, "OPENCLAW_URL", URL_VALUE)


def test_a_missing_permission_names_workers_scripts_edit(fake, client):
    fake.denied.add("workers")
    with pytest.raises(Exception, match="Workers Scripts Edit"):
        secrets.put_secret(client, ACCOUNT, SCRIPT, "OPENCLAW_URL", URL_VALUE)


def test_generated_secrets_are_random_and_user_key_secret_is_kept_in_env_file(fake, client, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("GATEWAY_URL=https://example.workers.dev\nUSER_KEY_SECRET=old\n")
    actions = secrets.sync_secrets(client, ACCOUNT, SCRIPT, {}, generate=["USER_KEY_SECRET", "IP_HASH_SALT"],
                                   env_file=env_file)
    assert [(a.name, a.action) for a in actions] == [
        ("USER_KEY_SECRET", "generated (also saved to .env)"), ("IP_HASH_SALT", "generated")]
    stored = fake.scripts[SCRIPT]["secrets"]
    assert len(stored["USER_KEY_SECRET"]) >= 43 and stored["USER_KEY_SECRET"] != stored["IP_HASH_SALT"]
    lines = env_file.read_text().splitlines()
    assert lines == ["GATEWAY_URL=https://example.workers.dev", f"USER_KEY_SECRET={stored['USER_KEY_SECRET']}"]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_an_existing_generated_secret_is_kept_unless_replacing_is_asked_for(fake, client, tmp_path):
    secrets.put_secret(client, ACCOUNT, SCRIPT, "USER_KEY_SECRET", "issued-keys-depend-on-this")
    actions = secrets.sync_secrets(client, ACCOUNT, SCRIPT, {}, generate=["USER_KEY_SECRET"], env_file=tmp_path / "e")
    assert actions[0].action == "already set (kept)"
    assert fake.scripts[SCRIPT]["secrets"]["USER_KEY_SECRET"] == "issued-keys-depend-on-this"
    replaced = secrets.generate_and_set(client, ACCOUNT, SCRIPT, "USER_KEY_SECRET", replace=True,
                                        env_file=tmp_path / "e")
    assert replaced.action.startswith("replaced")
    assert fake.scripts[SCRIPT]["secrets"]["USER_KEY_SECRET"] != "issued-keys-depend-on-this"


def test_only_known_secrets_and_only_keys_can_be_generated(client):
    with pytest.raises(SettingsError, match="Unknown secret"):
        secrets.sync_secrets(client, ACCOUNT, SCRIPT, {"OPENAI_KEY": SecretStr("x")})
    with pytest.raises(SettingsError, match="can be generated, not OPENCLAW_URL"):
        secrets.sync_secrets(client, ACCOUNT, SCRIPT, {}, generate=["OPENCLAW_URL"])


def test_values_never_reach_logs_even_at_debug_level(fake, client, caplog, capsys, tmp_path):
    caplog.set_level(logging.DEBUG)  # the SDK logs request bodies at DEBUG: the value must not be among them
    values = {"OPENCLAW_URL": SecretStr(URL_VALUE), "AUTH_MODE": SecretStr("openai")}
    actions = secrets.sync_secrets(client, ACCOUNT, SCRIPT, values, generate=["IP_HASH_SALT"], env_file=tmp_path / "e")
    salt = fake.scripts[SCRIPT]["secrets"]["IP_HASH_SALT"]
    assert any("Request options" in r.getMessage() for r in caplog.records), "the SDK's debug log was not captured"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    printed = "".join(capsys.readouterr())
    for value in (URL_VALUE, salt):
        assert value not in logged and value not in printed and value not in repr(actions)
    assert logging.getLogger("cloudflare").level == logging.NOTSET  # restored afterwards


def test_the_debug_guard_is_what_keeps_values_out_of_logs(fake, client, caplog, monkeypatch):
    """Without the guard the SDK would log the value: the test above can fail."""
    from contextlib import nullcontext

    monkeypatch.setattr(secrets, "_sdk_debug_log_off", nullcontext)
    caplog.set_level(logging.DEBUG)
    secrets.put_secret(client, ACCOUNT, SCRIPT, "OPENCLAW_URL", URL_VALUE)
    assert URL_VALUE in "\n".join(r.getMessage() for r in caplog.records)


def test_secrets_come_from_the_environment_wrapped(monkeypatch):
    found = secrets.secrets_from_environment({"OPENCLAW_URL": URL_VALUE, "AUTH_MODE": "", "PATH": "/bin"})
    assert list(found) == ["OPENCLAW_URL"] and URL_VALUE not in repr(found)
    assert found["OPENCLAW_URL"].get_secret_value() == URL_VALUE


def test_checks_require_the_two_secrets_the_worker_cannot_run_without():
    checks = {c.name: c for c in secrets.secret_checks(["OPENCLAW_URL", "IP_HASH_SALT"])}
    assert not checks["secret AUTH_MODE"].passed and checks["secret OPENCLAW_URL"].passed
    assert checks["secret USER_KEY_SECRET"].passed and checks["secret USER_KEY_SECRET"].observed == "not set"
    assert all(c.passed for c in secrets.secret_checks(["OPENCLAW_URL", "AUTH_MODE"]))
    assert os.environ.get("NEVER_SET_NAME") is None


def _watch_secret_puts(fake, monkeypatch, env_file):
    """What ``.env`` held (and its mode) at the moment each secret reached the fake Cloudflare."""
    seen = []
    route = fake.route

    def watching(method, path, query, body):
        if method == "PUT" and path.endswith("/secrets"):
            held = env_file.read_text() if env_file.exists() else ""
            seen.append((body["text"], f"USER_KEY_SECRET={body['text']}" in held.splitlines(),
                         stat.S_IMODE(env_file.stat().st_mode) if env_file.exists() else None))
        return route(method, path, query, body)

    monkeypatch.setattr(fake, "route", watching)
    return seen


def test_a_generated_user_key_secret_is_saved_owner_only_before_it_is_sent(fake, client, tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    secrets.put_secret(client, ACCOUNT, SCRIPT, "AUTH_MODE", "openai")  # the Worker exists: one PUT per secret
    seen = _watch_secret_puts(fake, monkeypatch, env_file)
    secrets.generate_and_set(client, ACCOUNT, SCRIPT, "USER_KEY_SECRET", env_file=env_file)
    ((sent, saved_already, mode),) = seen
    assert saved_already and mode == 0o600
    assert fake.scripts[SCRIPT]["secrets"]["USER_KEY_SECRET"] == sent


def test_the_watch_sees_a_secret_sent_before_it_is_saved(fake, client, tmp_path, monkeypatch):
    """The check above can fail: the old order (send, then save) is caught by the same watch."""
    env_file = tmp_path / ".env"
    secrets.put_secret(client, ACCOUNT, SCRIPT, "AUTH_MODE", "openai")
    seen = _watch_secret_puts(fake, monkeypatch, env_file)
    value = secrets.generate_secret()
    secrets.put_secret(client, ACCOUNT, SCRIPT, "USER_KEY_SECRET", value)
    secrets.save_to_env_file("USER_KEY_SECRET", value, env_file)
    assert [saved for _, saved, _ in seen] == [False]


def test_a_failed_send_loses_neither_the_new_nor_the_replaced_value(fake, client, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("GATEWAY_URL=https://example.workers.dev\nUSER_KEY_SECRET=issued-keys-depend-on-this\n")
    secrets.put_secret(client, ACCOUNT, SCRIPT, "USER_KEY_SECRET", "issued-keys-depend-on-this")
    fake.inject("PUT", r"/secrets$", error_response(400, 10215, "Secret edit failed. Latest version not deployed."))
    with pytest.raises(Exception, match="latest version is not deployed"):
        secrets.generate_and_set(client, ACCOUNT, SCRIPT, "USER_KEY_SECRET", replace=True, env_file=env_file)
    sent = [r.body["text"] for r in fake.requests if r.method == "PUT" and r.path.endswith("/secrets")][-1]
    lines = env_file.read_text().splitlines()
    assert lines == ["GATEWAY_URL=https://example.workers.dev",
                     "USER_KEY_SECRET_PREVIOUS=issued-keys-depend-on-this", f"USER_KEY_SECRET={sent}"]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
