"""Notebook 10's panel: each button sends one change, shows the new state and a probe's answer; the
tour restores what it found; the checks fail when a control has no effect or a secret is shown.

The gateway here is a small emulation of the contract's effects on ``/v1`` (the real Worker is
exercised in test_integration.py); it reads the controls the fake admin API holds.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest

from gateway_ops.client import Credentials
from gateway_ops.controls.client import AdminClient
from gateway_ops.controls.probe import Prober
from gateway_ops.controls.widgets import ControlPanel

from .fake_admin import OFF, TOKEN, FakeAdmin

SECRET = "probe-secret-Zx81"


def emulated_gateway(admin: FakeAdmin, obey: bool = True) -> httpx.MockTransport:
    """The contract's effects of the controls on /v1 (``obey=False``: a gateway that ignores them)."""
    counts: Counter = Counter()
    spent: Counter = Counter()

    def handle(request: httpx.Request) -> httpx.Response:
        body, user = json.loads(request.content), request.headers["x-user-id"]
        c: dict[str, Any] = admin.controls if obey else OFF
        if c["maintenance"]["on"]:
            return httpx.Response(503, json={"error": c["maintenance"]["message"] or "maintenance"},
                                  headers={"Retry-After": "60"})
        counts[user] += 1
        if c["limit_per_minute"] is not None and counts[user] > c["limit_per_minute"]:
            return httpx.Response(429, json={"error": "limit"}, headers={"Retry-After": "10"})
        if c["models"] is not None and body["model"] not in c["models"]:
            return httpx.Response(403, json={"error": f"Allowed models: {', '.join(c['models'])}."})
        if c["budget"] is not None and spent[user] >= c["budget"]["tokens"]:
            return httpx.Response(429, json={"error": "budget spent"}, headers={"Retry-After": "3600"})
        asked = body.get("max_tokens")
        if c["max_tokens"] is not None:
            asked = min(asked or c["max_tokens"], c["max_tokens"])
        tokens = min(16, asked or 16)
        spent[user] += tokens
        return httpx.Response(200, json={"choices": [{"message": {"content": "word"}}],
                                         "usage": {"completion_tokens": tokens}})

    return httpx.MockTransport(handle)


def make_panel(admin: FakeAdmin, obey: bool = True) -> ControlPanel:
    client = AdminClient("http://gateway.test", TOKEN, transport=admin.transport())
    prober = Prober("http://gateway.test", credentials=Credentials(key_secret=SECRET, api_key="sk-client-key"),
                    model="probe-model", transport=emulated_gateway(admin, obey))
    return ControlPanel(client, prober)


@pytest.fixture(autouse=True)
def no_minute_wait(monkeypatch):
    monkeypatch.setattr("gateway_ops.controls.probe.wait_before_start", lambda now, needed: 0.0)


def test_a_button_changes_the_control_shows_it_and_what_a_probe_got():
    admin = FakeAdmin()
    panel = make_panel(admin)
    panel.message.value = "back at 10:15"
    panel.maintenance_on.click()
    assert [r[:2] for r in admin.requests] == [("GET", "/admin/controls"), ("PATCH", "/admin/controls"),
                                               ("GET", "/admin/controls")]
    assert admin.controls["maintenance"] == {"on": True, "message": "back at 10:15"}
    assert "ON: back at 10:15" in panel.state.value
    assert "503: back at 10:15, Retry-After 60" in panel.log.value and "✔" in panel.log.value


def test_the_tour_proves_each_control_and_restores_the_controls_found():
    admin = FakeAdmin()
    admin.controls["max_tokens"] = 512  # set before the rehearsal: it must be back afterwards
    panel = make_panel(admin)
    steps = panel.tour(limit=2, cap=4, budget=1)
    assert len(steps) == 10
    checks = panel.checks()
    assert all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert admin.controls["max_tokens"] == 512 and admin.controls["maintenance"]["on"] is False


def test_the_checks_fail_when_the_gateway_ignores_the_controls():
    panel = make_panel(FakeAdmin(), obey=False)
    panel.tour(limit=2, cap=4, budget=1)
    failed = {c.name for c in panel.checks() if not c.passed}
    assert failed == {"maintenance answers 503", "limit 2/min holds", "other models get 403",
                      "the cap lowers max_tokens", "a spent budget gets 429"}


def test_a_secret_on_the_page_fails_the_check():
    panel = make_panel(FakeAdmin())
    assert next(c for c in panel.checks() if c.name == "no secret on the panel").passed
    panel.message.value = f"token is {TOKEN}"
    assert not next(c for c in panel.checks() if c.name == "no secret on the panel").passed
    panel.message.value = "key sk-client-key"
    assert not next(c for c in panel.checks() if c.name == "no secret on the panel").passed


def test_without_an_admin_api_the_panel_says_why_and_its_checks_fail():
    panel = make_panel(FakeAdmin(token=None))
    assert "Controls unknown" in panel.state.value and "has no admin API" in panel.state.value
    step = panel.maintenance(True, "x")
    assert step.check is not None and not step.check.passed
    assert not all(c.passed for c in panel.checks())
