"""The secrets step behind notebook 02, on both targets (names only, always)."""
from __future__ import annotations

import pytest
from pydantic import SecretStr

from gateway_ops.cloudflare.secret_setup import configure_secrets, local_secret_checks, secret_form, secret_values
from gateway_ops.exceptions import SettingsError

URL_VALUE = "https://mac-mini.tail0a1b2.ts.net/kept-out-of-outputs-3Jd"


def test_local_reports_what_the_environment_gives_the_local_worker(cf_settings):
    report = configure_secrets(cf_settings, "local", environ={"USER_KEY_SECRET": "k-7hX", "AUTH_MODE": "codex"})
    assert report.passed and report.names_set == ["OPENCLAW_URL", "AUTH_MODE", "USER_KEY_SECRET"]
    assert report.frame().to_dict("records")[1] == {"secret": "AUTH_MODE", "status": "codex", "required": True,
                                                    "this run": ""}
    assert "k-7hX" not in report.frame().to_string()


def test_local_fails_for_an_auth_mode_the_worker_would_reject():
    checks = {c.name: c for c in local_secret_checks({"AUTH_MODE": "oauth"})}
    assert not checks["secret AUTH_MODE"].passed and "must be openai or codex" in checks["secret AUTH_MODE"].observed


def test_cloudflare_sets_environment_values_and_reports_the_missing(fake, cf_settings, worker_copy, tmp_path):
    report = configure_secrets(cf_settings, "cloudflare", environ={}, http_client=fake.http_client(),
                               toml_path=worker_copy / "wrangler.toml", env_file=tmp_path / ".env")
    assert report.missing == ["OPENCLAW_URL"] and not report.passed  # AUTH_MODE defaults to openai
    assert fake.scripts["organized-gateway"]["secrets"] == {"AUTH_MODE": "openai"}
    report = configure_secrets(cf_settings, "cloudflare", environ={"OPENCLAW_URL": URL_VALUE},
                               http_client=fake.http_client(), toml_path=worker_copy / "wrangler.toml",
                               generate=["USER_KEY_SECRET"], env_file=tmp_path / ".env")
    assert report.passed and report.names_set == ["AUTH_MODE", "OPENCLAW_URL", "USER_KEY_SECRET"]
    table = report.frame().to_string()
    assert "generated (also saved to .env)" in table and URL_VALUE not in table


def test_auth_mode_comes_from_the_parameter_then_the_environment_then_openai():
    assert secret_values({"AUTH_MODE": "codex"}, "")["AUTH_MODE"].get_secret_value() == "codex"
    assert secret_values({"AUTH_MODE": "codex"}, "openai")["AUTH_MODE"].get_secret_value() == "openai"
    assert secret_values({}, "")["AUTH_MODE"] == SecretStr("openai")


def test_bad_targets_and_modes_are_one_sentence(cf_settings):
    with pytest.raises(SettingsError, match="auth_mode must be one of openai, codex"):
        configure_secrets(cf_settings, "local", auth_mode="byok")
    with pytest.raises(SettingsError, match="Unknown target 'staging'"):
        configure_secrets(cf_settings, "staging")


def test_the_password_form_sends_values_and_forgets_them(fake, cf_settings, worker_copy):
    form = secret_form(cf_settings, ["OPENCLAW_URL", "NOT_A_SECRET"], toml_path=worker_copy / "wrangler.toml",
                       http_client=fake.http_client())
    field, button, status = form.children
    assert field.description == "OPENCLAW_URL" and type(field).__name__ == "Password"
    field.value = URL_VALUE
    button.click()
    assert fake.scripts["organized-gateway"]["secrets"]["OPENCLAW_URL"] == URL_VALUE
    assert field.value == "" and status.value == "OPENCLAW_URL ✓" and URL_VALUE not in status.value
    field.value = "not a url"
    button.click()
    assert "must be the origin's http(s) base URL" in status.value and "not a url" not in status.value


def test_values_come_from_the_environment_over_the_env_file(fake, cf_settings, worker_copy, tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text(f"OPENCLAW_URL={URL_VALUE}\nAUTH_MODE=codex\n")
    monkeypatch.setenv("AUTH_MODE", "openai")
    monkeypatch.delenv("OPENCLAW_URL", raising=False)
    report = configure_secrets(cf_settings, "cloudflare", http_client=fake.http_client(),
                               toml_path=worker_copy / "wrangler.toml", env_file=env_file)
    assert report.passed
    assert fake.scripts["organized-gateway"]["secrets"] == {"OPENCLAW_URL": URL_VALUE, "AUTH_MODE": "openai"}
