"""The access-log query layer: the local SQLite backend and the Cloudflare D1 backend (faked at HTTP)."""
from __future__ import annotations

import json

import httpx
import pytest

from gateway_ops import queries
from gateway_ops.accesslog import CloudflareAccessLog, LocalAccessLog
from gateway_ops.cloudflare_api import make_client
from gateway_ops.exceptions import AccessLogError
from gateway_ops.settings import Settings
from helpers import client_headers, wait_until

ACCOUNT = "0123456789abcdef0123456789abcdef"
DATABASE = "11111111-2222-3333-4444-555555555555"


def test_local_log_without_a_stack_says_what_to_do(tmp_path):
    with pytest.raises(AccessLogError, match="start the local stack once"):
        LocalAccessLog(tmp_path).query("SELECT 1")


def test_local_log_reads_the_stacks_rows(stack, access_log):
    user = "accesslog-reader"
    request_id = httpx.get(f"{stack.url}/v1/models", headers=client_headers(user)).headers["X-Request-ID"]
    row = wait_until(lambda: queries.request_by_id(access_log, request_id), timeout=5)
    assert row is not None, "no access-log row for the request"
    assert row["user_id"] == user and row["endpoint"] == "/v1/models" and row["status"] == 200
    summary = queries.user_summary(access_log)
    assert user in set(summary["user_id"])
    assert queries.request_by_id(access_log, "no-such-id") is None


def test_local_log_reports_bad_sql_in_one_sentence(stack, access_log):
    with pytest.raises(AccessLogError, match="query failed"):
        access_log.query("SELEKT nonsense")


def test_local_log_is_read_only(stack, access_log):
    with pytest.raises(AccessLogError, match="readonly"):
        access_log.query("DELETE FROM requests")


def d1_api(handler_calls: list, status: int = 200, body: dict | None = None) -> httpx.Client:
    """A fake of the D1 query endpoint, shaped like Cloudflare's API documentation."""

    def handler(request: httpx.Request) -> httpx.Response:
        handler_calls.append(request)
        expected = f"/client/v4/accounts/{ACCOUNT}/d1/database/{DATABASE}/query"
        if request.url.path != expected:
            return httpx.Response(404, json={"success": False, "errors": [{"code": 7003, "message": "No route"}],
                                             "messages": [], "result": None})
        if body is not None:
            return httpx.Response(status, json=body)
        sent = json.loads(request.content)
        rows = [{"user_id": "alice", "requests": 3}] if sent["params"] == ["alice"] else []
        return httpx.Response(200, json={
            "success": True, "errors": [], "messages": [],
            "result": [{"results": rows, "success": True,
                        "meta": {"changed_db": False, "changes": 0, "duration": 0.2, "last_row_id": 0,
                                 "rows_read": len(rows), "rows_written": 0, "size_after": 8192}}],
        })

    return httpx.Client(transport=httpx.MockTransport(handler))


def cloudflare_log(calls: list, **fake) -> CloudflareAccessLog:
    settings = Settings(CLOUDFLARE_API_TOKEN="test-token", CLOUDFLARE_ACCOUNT_ID=ACCOUNT)
    return CloudflareAccessLog(make_client(settings, http_client=d1_api(calls, **fake)), ACCOUNT, DATABASE)


def test_cloudflare_log_binds_parameters_and_returns_a_frame():
    calls: list[httpx.Request] = []
    frame = cloudflare_log(calls).query("SELECT user_id, requests FROM user_summary WHERE user_id = ?", ["alice"])
    assert frame.to_dict("records") == [{"user_id": "alice", "requests": 3}]
    sent = json.loads(calls[0].content)
    assert sent == {"sql": "SELECT user_id, requests FROM user_summary WHERE user_id = ?", "params": ["alice"]}
    assert calls[0].headers["authorization"] == "Bearer test-token"


def test_cloudflare_log_turns_an_api_error_into_one_sentence():
    envelope = {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}],
                "messages": [], "result": None}
    with pytest.raises(AccessLogError, match="remote access-log query failed"):
        cloudflare_log([], status=403, body=envelope).query("SELECT 1")
