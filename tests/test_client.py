"""The suite's own client: its credentials (never shown), the model it asks for, what a refusal
means, and the codex token it lends to temporary users (always taken back)."""
from __future__ import annotations

import json

import httpx
import pytest

from gateway_ops.attendees import TokenLoan, token_loan
from gateway_ops.client import ClientError, Credentials, choose_model, explain_refusal
from gateway_ops.keys import user_key
from gateway_ops.settings import Settings

from attendees.test_prepare import MemoryKV

KEY = "sk-client-Zt5Rq9"


def openai_error(message: str, code: str | None, param: str | None = None) -> str:
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})


def test_credentials_send_the_client_key_as_bearer_and_never_show_it():
    credentials = Credentials(key_secret="s3cret", api_key=KEY)
    assert credentials.headers("alice") == {"X-User-ID": "alice", "X-User-Key": user_key("s3cret", "alice"),
                                            "Authorization": f"Bearer {KEY}"}
    assert Credentials().headers("bob") == {"X-User-ID": "bob"}
    assert KEY not in repr(credentials) and "s3cret" not in repr(credentials)


def test_the_settings_hold_the_client_key_and_codex_token_as_secrets(monkeypatch):
    monkeypatch.setenv("GATEWAY_CLIENT_API_KEY", KEY)
    monkeypatch.setenv("GATEWAY_CODEX_TOKEN", "codex-Hk3")
    settings = Settings(_env_file=None)
    assert settings.client_api_key == KEY and settings.codex_token == "codex-Hk3"
    assert KEY not in repr(settings) and "codex-Hk3" not in repr(settings) and "**********" in repr(settings)
    assert Credentials.from_settings(settings).api_key == KEY
    monkeypatch.setenv("GATEWAY_CLIENT_API_KEY", " ")
    monkeypatch.delenv("GATEWAY_CODEX_TOKEN")
    blank = Settings(_env_file=None)
    assert blank.client_api_key is None and blank.codex_token is None and token_loan(blank) is None


@pytest.mark.parametrize("status, body, sentence", [
    (401, openai_error("Incorrect API key provided.", "invalid_api_key"),
     "the origin refused the key (401 invalid_api_key: Incorrect API key provided.): set GATEWAY_CLIENT_API_KEY"),
    (403, openai_error("Not allowed.", "forbidden"), "the origin refused the key (403 forbidden: Not allowed.)"),
    (404, openai_error("The model 'x' does not exist.", "model_not_found", "model"),
     "the origin does not know the model 'x' (404 model_not_found"),
    (502, '{"error":"The origin could not be reached."}', "the origin cannot be reached (502: The origin could not"),
    (504, '{"error":"The origin did not answer in time."}', "the origin did not answer in time (504"),
    (500, openai_error("boom", None), "the origin failed (500 invalid_request_error: boom)"),
    (401, '{"error":"Missing or wrong X-User-Key for this X-User-ID."}',
     "the gateway refused the request (401: Missing or wrong X-User-Key"),
    (403, '{"error":"This user is blocked by the facilitator (limit 0)."}', "the gateway refused the request (403"),
    (0, "ConnectError", "the gateway did not answer (ConnectError)"),
])
def test_a_refusal_is_one_sentence_naming_who_refused_and_why(status, body, sentence):
    """The origin answers in OpenAI's shape, the gateway with {"error": "<sentence>"}: the two are
    told apart, so a gateway's own 401 is never blamed on the origin's key."""
    assert explain_refusal(status, body, model="x").startswith(sentence)


def test_the_model_is_the_one_given_or_the_first_the_origin_lists(monkeypatch):
    asked = []

    def fake_get(url, headers, timeout):
        asked.append((url, headers))
        return httpx.Response(200, json={"object": "list", "data": [{"id": "llama3.2:3b"}, {"id": "gpt-4o-mini"}]})

    monkeypatch.setattr(httpx, "get", fake_get)
    assert choose_model("http://gw/", "mine", {}) == "mine" and asked == []
    assert choose_model("http://gw/", None, {"Authorization": "Bearer k"}) == "llama3.2:3b"
    assert asked == [("http://gw/v1/models", {"Authorization": "Bearer k"})]
    monkeypatch.setattr(httpx, "get", lambda *a, **k: httpx.Response(401, text=openai_error("No key.", "invalid_api_key")))
    with pytest.raises(ClientError, match=r"Asking for /v1/models, the origin refused the key \(401"):
        choose_model("http://gw", None, {})
    monkeypatch.setattr(httpx, "get", lambda *a, **k: httpx.Response(200, json={"data": []}))
    with pytest.raises(ClientError, match="lists no models"):
        choose_model("http://gw", None, {})


def test_a_lent_token_is_taken_back_also_when_the_run_fails():
    store = MemoryKV()
    store.put_many({"oauth:attendee-1": "theirs"})
    loan = TokenLoan(store, "lent-token")
    with loan.lent_to(["rl-x-u0001", "rl-x-u0002"]):
        assert store.get_many(["oauth:rl-x-u0001", "oauth:rl-x-u0002"]) == {
            "oauth:rl-x-u0001": "lent-token", "oauth:rl-x-u0002": "lent-token"}
    with pytest.raises(RuntimeError):
        with loan.lent_to(["rl-y-u0001"]):
            raise RuntimeError("the burst failed")
    assert store.data == {"oauth:attendee-1": "theirs"}  # only the attendees' own tokens remain
    assert "lent-token" not in repr(loan)
