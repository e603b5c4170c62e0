"""The gate-status reader (GET /admin/status) and where it finds the admin token; HTTP faked in-process."""
from __future__ import annotations

import httpx
import pytest

from gateway_ops.exceptions import GatewayOpsError
from gateway_ops.gate_status import find_admin_token, read_gate_status

TOKEN = "admin-token-7a1e"
STATUS = {"generated_at": "x", "gate": {"enabled": True}, "origins": [{"origin": "0", "host": "h:1"}]}


def client_answering(status: int, body=None, seen: list | None = None) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="nope")
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_reads_the_status_with_the_bearer_token():
    seen: list[httpx.Request] = []
    assert read_gate_status("http://gw/", TOKEN, client=client_answering(200, STATUS, seen)) == STATUS
    assert str(seen[0].url) == "http://gw/admin/status" and seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(("status", "body", "sentence"), [
    (401, {"error": "x"}, "refused the admin token (401)"),
    (404, {"error": "x"}, "no admin API (404)"),
    (500, {"error": "x"}, "answered HTTP 500"),
    (200, None, "did not answer JSON"),
    (200, {"gate": {}}, "no 'origins' list"),
])
def test_each_failure_is_one_sentence_without_the_token(status, body, sentence):
    with pytest.raises(GatewayOpsError) as error:
        read_gate_status("http://gw", TOKEN, client=client_answering(status, body))
    assert sentence in str(error.value) and TOKEN not in str(error.value)


def test_an_unreachable_gateway_is_one_sentence():
    def refuse(request):
        raise httpx.ConnectError("refused")
    with pytest.raises(GatewayOpsError, match="Cannot reach"):
        read_gate_status("http://gw", TOKEN, client=httpx.Client(transport=httpx.MockTransport(refuse)))


def test_the_token_comes_from_the_environment_then_the_state_folder(tmp_path):
    assert find_admin_token(tmp_path, environ={}) is None
    (tmp_path / "admin_token").write_text(f"{TOKEN}\n")
    assert find_admin_token(tmp_path, environ={}) == TOKEN
    assert find_admin_token(tmp_path, environ={"ADMIN_TOKEN": "from-env"}) == "from-env"
    assert find_admin_token(None, environ={}) is None
