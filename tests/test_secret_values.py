"""The notebook parameter guard refuses secrets by value too, and never quotes the value it refused."""
from __future__ import annotations

import pytest

from gateway_ops.exceptions import NotebookError
from gateway_ops.notebooks import check_parameters
from gateway_ops.secret_values import looks_secret, secret_reasons

SECRET_SHAPED = {
    "a URL with credentials": "https://facilitator:hunter2-pass@mac-mini.example.ts.net/v1",
    "a URL with a token as its user": "https://ghp_abcdefghijklmnopqrstuvwx@github.com/org/repo",
    "a bearer token": "Bearer abcdef0123456789",
    "an OpenAI-style key": "sk-proj-AbCdEf0123456789xyz",
    "a JWT": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhdHRlbmRlZSJ9.c2lnbmF0dXJl",
}
HARMLESS = ["http://127.0.0.1:8787", "https://gateway.example.workers.dev/v1", "gpt-4o-mini", "attendee",
            "task-list", "ask-me", "2026-11-28T09:00:00Z", "", "runs/x", "risk-based"]


@pytest.mark.parametrize("value", SECRET_SHAPED.values(), ids=SECRET_SHAPED.keys())
def test_a_secret_shaped_value_is_refused_under_an_innocent_name(value):
    with pytest.raises(NotebookError) as refused:
        check_parameters({"gateway_url": value, "users": 3})
    message = str(refused.value)
    assert "gateway_url" in message and "users" not in message.split("(")[0]
    assert value not in message


@pytest.mark.parametrize("value", HARMLESS)
def test_ordinary_parameter_values_pass(value):
    check_parameters({"gateway_url": value, "rates": [5.0, 10.0], "live": "auto", "limits": [10, 20]})


def test_values_inside_lists_and_dicts_are_looked_at():
    assert set(secret_reasons({"headers": {"Authorization": "Bearer abcdef0123456789"}, "urls": ["ok", SECRET_SHAPED[
        "a URL with credentials"]]}, environ={})) == {"headers", "urls"}


def test_the_value_of_a_known_secret_is_refused_whatever_it_looks_like(monkeypatch):
    monkeypatch.setenv("USER_KEY_SECRET", "plain-words-event-2026")
    reasons = secret_reasons({"prefix": "x-plain-words-event-2026"})
    assert reasons == {"prefix": "the value of USER_KEY_SECRET"}


def test_names_still_count():
    with pytest.raises(NotebookError, match="CLOUDFLARE_API_TOKEN as notebook parameters"):
        check_parameters({"CLOUDFLARE_API_TOKEN": "x"})


def test_looks_secret_is_the_same_rule_for_free_text():
    assert looks_secret("connect with https://u:p@host/ now", environ={})
    assert not looks_secret("connect with https://host/ now", environ={})
