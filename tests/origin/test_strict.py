"""The origin run strict, as a real OpenAI-compatible server: a credential on every ``/v1/*``
request (401), only the models it lists (404), well-formed bodies only (400) — with the control
endpoints, faults and the capacity model working as before."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway_ops.origin import AccessSettings, OriginSettings, create_app, resolve_profile

from .helpers import CHAT, asgi_client, sse_payloads

pytestmark = pytest.mark.anyio

KEY = "sk-origin-Qm4Tz8Wp"
CODEX = "codex-oauth-Hn2Rk7"
EMBED = {"model": "gpt-4o-mini", "input": "hello"}


def strict(access: AccessSettings | None = None, **profile: Any) -> OriginSettings:
    return OriginSettings(
        profile=resolve_profile("instant", **profile),
        access=access or AccessSettings(api_key=KEY),
        models=("gpt-4o-mini", "llama3.2:3b"),
        reject_unknown_models=True,
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_openai_error(response: httpx.Response, status: int, code: str | None, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    error = body["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == code and error["param"] == param
    assert isinstance(error["message"], str) and error["message"]
    return error


# --- the API key ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("POST", "/v1/chat/completions", CHAT),
        ("GET", "/v1/models", None),
        ("POST", "/v1/embeddings", EMBED),
        ("GET", "/v1/no/such/endpoint", None),
    ],
)
@pytest.mark.parametrize("headers", [{}, bearer("sk-wrong"), {"Authorization": KEY}, bearer("")], ids=str)
async def test_every_v1_request_without_the_key_is_401_invalid_api_key(
    method: str, path: str, json: Any, headers: dict[str, str]
) -> None:
    async with asgi_client(create_app(strict())) as client:
        response = await client.request(method, path, json=json, headers=headers)
    assert_openai_error(response, 401, "invalid_api_key")
    assert KEY not in response.text and "sk-wrong" not in response.text


async def test_the_right_key_is_served_plain_streamed_listed_and_embedded() -> None:
    async with asgi_client(create_app(strict())) as client:
        plain = await client.post("/v1/chat/completions", json=CHAT, headers=bearer(KEY))
        streamed = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=bearer(KEY))
        models = await client.get("/v1/models", headers={"authorization": f"bearer {KEY}"})
        embedded = await client.post("/v1/embeddings", json=EMBED, headers=bearer(KEY))
    assert plain.status_code == 200 and plain.json()["object"] == "chat.completion"
    assert streamed.status_code == 200 and sse_payloads(streamed.text)[-1] == "[DONE]"
    assert [m["id"] for m in models.json()["data"]] == ["gpt-4o-mini", "llama3.2:3b"]
    assert embedded.status_code == 200 and embedded.json()["object"] == "list"


async def test_the_key_is_checked_before_the_body_so_a_stranger_learns_nothing() -> None:
    async with asgi_client(create_app(strict())) as client:
        stranger = await client.post("/v1/chat/completions", content=b"{not json")
        keyed = await client.post("/v1/chat/completions", content=b"{not json", headers=bearer(KEY))
    assert_openai_error(stranger, 401, "invalid_api_key")
    assert_openai_error(keyed, 400, "invalid_json")


async def test_the_record_keeps_every_request_but_never_the_origins_key() -> None:
    app = create_app(strict())
    async with asgi_client(app) as client:
        await client.post("/v1/chat/completions", json=CHAT, headers=bearer(KEY))
        await client.post("/v1/chat/completions", json=CHAT, headers=bearer("sk-wrong"))
        over_http = (await client.get("/_origin/requests")).text
    right, wrong = app.state.recorder.all()
    assert right.headers["authorization"] == "Bearer [redacted]"
    assert wrong.headers["authorization"] == "Bearer sk-wrong"  # what arrived, as before: not the origin's secret
    assert KEY not in over_http and "Bearer [redacted]" in over_http


def test_settings_never_show_the_credential() -> None:
    settings = strict()
    assert KEY not in repr(settings) and KEY not in repr(settings.access)
    assert CODEX not in repr(AccessSettings(codex_token=CODEX))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"api_key": KEY, "codex_token": CODEX}, "not both"),
        ({"api_key": ""}, "empty"),
        ({"codex_token": "  "}, "empty"),
    ],
)
def test_contradictory_or_empty_credentials_are_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AccessSettings(**options)


# --- codex mode -------------------------------------------------------------------------------


async def test_codex_mode_requires_the_codex_token_and_ignores_authorization() -> None:
    app = create_app(strict(AccessSettings(codex_token=CODEX)))
    async with asgi_client(app) as client:
        missing = await client.post("/v1/chat/completions", json=CHAT, headers=bearer(KEY))
        wrong = await client.post("/v1/chat/completions", json=CHAT, headers={"X-Codex-Token": "codex-other"})
        served = await client.post(
            "/v1/chat/completions", json=CHAT, headers={"X-Codex-Token": CODEX, **bearer("anything")}
        )
        alone = await client.get("/v1/models", headers={"X-Codex-Token": CODEX})
    assert "X-Codex-Token" in assert_openai_error(missing, 401, "invalid_api_key")["message"]
    assert_openai_error(wrong, 401, "invalid_api_key")
    assert CODEX not in missing.text + wrong.text
    assert served.status_code == 200 and alone.status_code == 200
    assert app.state.recorder.all()[2].headers["x-codex-token"] == "[redacted]"


# --- models -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), [("/v1/chat/completions", CHAT), ("/v1/embeddings", EMBED)])
async def test_a_model_it_does_not_list_is_404_model_not_found(path: str, body: dict) -> None:
    app = create_app(strict())
    async with asgi_client(app) as client:
        unknown = await client.post(path, json={**body, "model": "gpt-9-imaginary"}, headers=bearer(KEY))
        listed = await client.post(path, json={**body, "model": "llama3.2:3b"}, headers=bearer(KEY))
    error = assert_openai_error(unknown, 404, "model_not_found")
    assert "gpt-9-imaginary" in error["message"]
    assert listed.status_code == 200


async def test_by_default_the_origin_still_echoes_any_model_and_asks_no_key() -> None:
    app = create_app(OriginSettings(profile=resolve_profile("instant")))
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "model": "made-up"})
        health = (await client.get("/_origin/health")).json()
    assert response.status_code == 200 and response.json()["model"] == "made-up"
    assert health["access"] == "open" and health["reject_unknown_models"] is False


# --- malformed bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": 7, "messages": CHAT["messages"]}, "missing_model", "model"),
        ({"model": "gpt-4o-mini", "messages": "hi"}, "invalid_messages", "messages"),
        ({**CHAT, "messages": ["hi"]}, "invalid_type", "messages[0]"),
        ({**CHAT, "messages": [{"content": "hi"}]}, "missing_required_parameter", "messages[0].role"),
        ({**CHAT, "messages": [{"role": "user", "content": 5}]}, "invalid_type", "messages[0].content"),
        ({**CHAT, "stream": "yes"}, "invalid_type", "stream"),
        ({**CHAT, "stream_options": True}, "invalid_type", "stream_options"),
        ({**CHAT, "temperature": "hot"}, "invalid_type", "temperature"),
        ({**CHAT, "temperature": True}, "invalid_type", "temperature"),
        ({**CHAT, "n": 1.5}, "invalid_type", "n"),
        ({**CHAT, "max_tokens": True}, "invalid_max_tokens", "max_tokens"),
    ],
)
async def test_a_mistyped_chat_body_is_400_naming_the_field(body: dict, code: str, param: str) -> None:
    app = create_app(strict())
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json=body, headers=bearer(KEY))
        stats = (await client.get("/_origin/stats")).json()
    assert_openai_error(response, 400, code, param)
    assert stats["served"] == 0  # refused before a generation slot was taken


async def test_null_optional_fields_and_content_are_accepted_as_a_real_server_does() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]
    body = {**CHAT, "messages": messages, "temperature": None, "stream": None, "stop": ["\n"], "top_p": 1}
    async with asgi_client(create_app(strict())) as client:
        response = await client.post("/v1/chat/completions", json=body, headers=bearer(KEY))
    assert response.status_code == 200


# --- control endpoints, faults and capacity are unchanged -------------------------------------


async def test_control_endpoints_answer_without_a_key_and_report_how_strict_the_origin_is() -> None:
    app = create_app(strict())
    async with asgi_client(app) as client:
        health = await client.get("/_origin/health")
        faults = await client.put("/_origin/faults", json={"error_rate": 0.5})
        stats = await client.get("/_origin/stats")
        requests = await client.get("/_origin/requests")
        cleared = await client.delete("/_origin/requests")
    assert health.json() == {"status": "ok", "profile": "instant", "access": "api-key", "reject_unknown_models": True}
    assert faults.status_code == 200 and faults.json()["error_rate"] == 0.5
    assert stats.status_code == requests.status_code == cleared.status_code == 200


async def test_faults_apply_to_authorised_requests_and_refusals_take_no_slot() -> None:
    app = create_app(strict(slots=1, max_queue=0, latency_ms=300))
    app.state.faults.update({"error_rate": 1.0})
    async with asgi_client(app) as client:
        refused = await client.post("/v1/chat/completions", json=CHAT)
        faulted = await client.post("/v1/chat/completions", json=CHAT, headers=bearer(KEY))
        app.state.faults.reset()
        served = await client.post("/v1/chat/completions", json=CHAT, headers=bearer(KEY))
        stats = (await client.get("/_origin/stats")).json()
    assert_openai_error(refused, 401, "invalid_api_key")
    assert faulted.status_code == 500 and faulted.json()["error"]["code"] == "origin_fault"
    assert served.status_code == 200
    assert stats["served"] == 1 and stats["rejected"] == 0 and stats["peak_in_flight"] == 1


async def test_the_capacity_model_still_queues_and_rejects_authorised_requests() -> None:
    app = create_app(strict(slots=1, max_queue=1, latency_ms=200))
    async with asgi_client(app) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=CHAT, headers=bearer(KEY)) for _ in range(3)),
            client.post("/v1/chat/completions", json=CHAT),
        )
        stats = (await client.get("/_origin/stats")).json()
    assert sorted(a.status_code for a in answers) == [200, 200, 401, 503]
    assert stats["served"] == 2 and stats["rejected"] == 1 and stats["peak_in_flight"] == 1
