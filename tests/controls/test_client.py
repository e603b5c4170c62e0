"""The admin client: the contract's calls, and every failure as one sentence that says what to do."""
from __future__ import annotations

import os
import stat

import httpx
import pytest

from gateway_ops.controls.client import AdminClient, open_admin
from gateway_ops.controls.errors import (
    AdminAuthError,
    AdminError,
    AdminRequestError,
    AdminTokenMissingError,
    AdminUnavailableError,
    AdminUnreachableError,
)
from gateway_ops.controls.model import Budget, Controls, budget_change, limit_change, maintenance_change
from gateway_ops.controls.token import ensure_local_token, find_admin_token, read_local_token
from gateway_ops.settings import Settings

from .fake_admin import TOKEN, FakeAdmin

URL = "http://gateway.test"


def client_for(fake: FakeAdmin, token: str | None = TOKEN) -> AdminClient:
    return AdminClient(URL, token, transport=fake.transport())


def test_a_change_is_patched_and_the_new_controls_come_back():
    fake = FakeAdmin()
    now = client_for(fake).change({**maintenance_change(True, "back at 10:15"), **limit_change(20)})
    assert fake.requests[-1] == ("PATCH", "/admin/controls", {"maintenance": {"on": True, "message": "back at 10:15"},
                                                               "limit_per_minute": 20})
    assert now.maintenance and now.message == "back at 10:15" and now.limit_per_minute == 20
    assert now.updated_at == "2026-11-30 09:00:00.000"


def test_the_token_goes_only_in_the_authorization_header():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"gate": {}})

    transport = httpx.MockTransport(answer)
    client = AdminClient(URL, TOKEN, transport=transport)
    client.status()
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(seen[0].url) and TOKEN not in repr(client)


@pytest.mark.parametrize("fake, token, error, sentence", [
    (FakeAdmin(), None, AdminTokenMissingError, "No admin token"),
    (FakeAdmin(), "wrong-token", AdminAuthError, "refused the admin token (401)"),
    (FakeAdmin(token=None), TOKEN, AdminUnavailableError, "has no admin API (404)"),
    (FakeAdmin(has_controls=False), TOKEN, AdminUnavailableError, "predates this control"),
])
def test_each_failure_is_one_sentence(fake, token, error, sentence):
    with pytest.raises(error, match=r"\(?" + sentence.replace("(", r"\(").replace(")", r"\)")) as raised:
        AdminClient(URL, token, transport=fake.transport(), missing_token="No admin token: export it.").controls()
    assert "\n" not in str(raised.value) and TOKEN not in str(raised.value)


def test_an_unreachable_gateway_is_said_so():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(AdminUnreachableError, match="cannot be reached .* is it running"):
        AdminClient(URL, TOKEN, transport=httpx.MockTransport(refuse)).status()


def test_a_status_answer_or_failure_is_reused_within_its_max_age_only():
    answers = [httpx.Response(200, json={"origins": [], "n": 1}), httpx.Response(503), httpx.Response(200, json={"n": 3})]
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return answers.pop(0)

    shared = AdminClient(URL, TOKEN, transport=httpx.MockTransport(answer), status_max_age=60)
    assert shared.status() == shared.status() == {"origins": [], "n": 1} and len(sent) == 1
    shared._last_status = None  # its minute is over
    for _ in range(2):  # a failure is reused too: a hung gateway costs one timeout, not one per reader
        with pytest.raises(AdminError, match="HTTP 503"):
            shared.status()
    assert len(sent) == 2
    every_time = AdminClient(URL, TOKEN, transport=httpx.MockTransport(answer))
    assert every_time.status() == {"n": 3} and len(sent) == 3


def test_a_refused_value_names_the_workers_reason():
    with pytest.raises(AdminRequestError, match="limit_per_minute must be null or an integer"):
        client_for(FakeAdmin()).change({"limit_per_minute": -1})


def test_tiers_reissue_and_revoke_follow_the_contract():
    fake = FakeAdmin()
    client = client_for(fake)
    assert client.set_tier("alice", 0) == {"user": "alice", "limit": 0}
    assert client.clear_tier("alice") == {"user": "alice", "limit": None}
    assert client.reissue("alice") == 1 and client.reissue("alice") == 2
    assert client.revoke("bob") == {"user": "bob", "revoked": True}
    assert [r[:2] for r in fake.requests] == [("PUT", "/admin/users/alice/tier"), ("DELETE", "/admin/users/alice/tier"),
                                             ("POST", "/admin/users/alice/reissue"),
                                             ("POST", "/admin/users/alice/reissue"), ("POST", "/admin/users/bob/revoke")]


def test_users_answers_the_directory_and_refuses_another_shape():
    fake = FakeAdmin(tiers={"alice": 0}, generations={"bob": 2}, revoked={"carol"})
    assert client_for(fake).users() == {"alice": {"limit": 0}, "bob": {"generation": 2}, "carol": {"revoked": True}}
    assert fake.requests[-1] == ("GET", "/admin/users", None)
    for answer in ({"alice": {"limit": 0}}, {"users": ["alice"]}, {"users": {"alice": 0}}):
        transport = httpx.MockTransport(lambda r, answer=answer: httpx.Response(200, json=answer))
        with pytest.raises(AdminError, match=r"GET /admin/users in an unexpected shape"):
            AdminClient(URL, TOKEN, transport=transport).users()


def test_a_worker_without_the_users_route_is_unavailable_not_an_error():
    with pytest.raises(AdminUnavailableError, match="has no admin route GET /admin/users"):
        client_for(FakeAdmin(has_users_list=False)).users()


def test_a_reissue_answer_without_a_generation_is_an_error():
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"user": "alice"}))
    with pytest.raises(AdminError, match="without a key generation"):
        AdminClient(URL, TOKEN, transport=transport).reissue("alice")


def test_controls_in_an_unexpected_shape_are_refused():
    with pytest.raises(AdminError, match="not in the expected shape"):
        Controls.from_json({"maintenance": {"on": False}, "limit_per_minute": "fifty"})


def test_the_line_names_every_active_control_and_nothing_else():
    assert Controls().line() == "controls: none active (usual limit, any model, no cap, no budget)"
    line = Controls(maintenance=True, message="back at 10:15", limit_per_minute=20, models=("a", "b"),
                    max_tokens=256, budget=Budget(5000, "hour")).line()
    assert line == ("controls: MAINTENANCE (back at 10:15) · limit 20/min · models: a, b · max_tokens ≤ 256 · "
                    "budget 5,000 tokens per user per hour")


@pytest.mark.parametrize("build, message", [
    (lambda: limit_change("-1"), "at least 0"),
    (lambda: limit_change("fifty"), "whole number"),
    (lambda: budget_change("100", "day"), "per hour or per event"),
    (lambda: budget_change("0", "hour"), "at least 1"),
    (lambda: maintenance_change(False, "x"), "goes with `maintenance on`"),
])
def test_malformed_values_are_refused_before_sending(build, message):
    with pytest.raises(AdminRequestError, match=message):
        build()


def test_the_local_token_file_is_generated_once_owner_only(tmp_path):
    assert read_local_token(tmp_path) is None
    token = ensure_local_token(tmp_path)
    assert len(token) >= 40 and ensure_local_token(tmp_path) == token
    assert stat.S_IMODE(os.stat(tmp_path / "admin_token").st_mode) == 0o600


def test_the_token_comes_from_the_environment_then_the_local_file(tmp_path):
    local = Settings(_env_file=None, GATEWAY_STATE_DIR=tmp_path, GATEWAY_TARGET="local")
    assert find_admin_token(local) is None
    written = ensure_local_token(tmp_path)
    assert find_admin_token(local) == written
    assert find_admin_token(local, "cloudflare") is None  # the local file is never sent to a remote gateway
    with_env = Settings(_env_file=None, GATEWAY_STATE_DIR=tmp_path, ADMIN_TOKEN="from-env")
    assert find_admin_token(with_env, "cloudflare") == "from-env"
    assert "from-env" not in repr(with_env)


def test_open_admin_says_what_to_do_without_a_token(tmp_path):
    settings = Settings(_env_file=None, GATEWAY_STATE_DIR=tmp_path)
    with pytest.raises(AdminTokenMissingError, match="gateway-ops up"):
        open_admin(settings, "local").status()
    with pytest.raises(AdminTokenMissingError, match="export ADMIN_TOKEN"):
        open_admin(settings, "cloudflare").status()
