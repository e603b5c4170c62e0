"""The Cloudflare KV backend against an HTTP-level fake of the KV bulk and key-list endpoints."""
from __future__ import annotations

import json

import httpx
import pytest

from gateway_ops.attendees import CloudflareKV, list_tiers, set_tiers
from gateway_ops.cloudflare_api import make_client
from gateway_ops.exceptions import GatewayOpsError
from gateway_ops.settings import Settings

ACCOUNT, NAMESPACE = "a" * 32, "b" * 32
BASE = f"/client/v4/accounts/{ACCOUNT}/storage/kv/namespaces/{NAMESPACE}"


class FakeKV:
    """Just the endpoints CloudflareKV uses, with Cloudflare's envelope and cursor pagination."""

    def __init__(self, page_size: int = 2):
        self.data: dict[str, str] = {}
        self.requests: list[httpx.Request] = []
        self.page_size = page_size
        self.fail_with: int | None = None

    @staticmethod
    def ok(result, **extra):
        return httpx.Response(200, json={"success": True, "errors": [], "messages": [], "result": result, **extra})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail_with:
            return httpx.Response(self.fail_with, json={"success": False, "errors": [
                {"code": 10000, "message": "Authentication error"}], "messages": [], "result": None})
        path = request.url.path
        if path == f"{BASE}/bulk" and request.method == "PUT":
            for item in json.loads(request.content):
                self.data[item["key"]] = item["value"]
            return self.ok({"successful_key_count": len(self.data), "unsuccessful_keys": []})
        if path == f"{BASE}/bulk/get" and request.method == "POST":
            keys = json.loads(request.content)["keys"]
            return self.ok({"values": {k: self.data.get(k) for k in keys}})
        if path == f"{BASE}/bulk/delete" and request.method == "POST":
            for key in json.loads(request.content):
                self.data.pop(key, None)
            return self.ok({"successful_key_count": 1, "unsuccessful_keys": []})
        if path == f"{BASE}/keys" and request.method == "GET":
            prefix = request.url.params.get("prefix", "")
            names = sorted(k for k in self.data if k.startswith(prefix))
            start = int(request.url.params.get("cursor") or 0)
            page = names[start:start + self.page_size]
            cursor = str(start + self.page_size) if start + self.page_size < len(names) else ""
            return self.ok([{"name": n} for n in page], result_info={"count": len(page), "cursor": cursor})
        return httpx.Response(404, json={"success": False, "errors": [{"code": 7003, "message": "No route"}],
                                         "messages": [], "result": None})


def kv(fake: FakeKV) -> CloudflareKV:
    settings = Settings(CLOUDFLARE_API_TOKEN="tok", CLOUDFLARE_ACCOUNT_ID=ACCOUNT)
    return CloudflareKV(make_client(settings, http_client=httpx.Client(transport=httpx.MockTransport(fake))),
                        ACCOUNT, NAMESPACE)


def test_tiers_round_trip_through_bulk_endpoints_with_pagination():
    fake = FakeKV(page_size=2)
    store = kv(fake)
    assert set_tiers(store, {"u1": 5, "u2": 0, "u3": "7"}) == 3
    writes = [r for r in fake.requests if r.method == "PUT"]
    assert len(writes) == 1, "one bulk write, not one request per user"
    frame = list_tiers(store)
    assert frame.to_dict("records") == [
        {"user_id": "u1", "limit_per_minute": 5, "blocked": False},
        {"user_id": "u2", "limit_per_minute": 0, "blocked": True},
        {"user_id": "u3", "limit_per_minute": 7, "blocked": False},
    ]
    assert sum(1 for r in fake.requests if r.url.path.endswith("/keys")) == 2  # two pages


def test_an_api_error_is_one_sentence():
    fake = FakeKV()
    fake.fail_with = 403
    with pytest.raises(GatewayOpsError, match="Could not write keys in Cloudflare KV"):
        set_tiers(kv(fake), {"u1": 5})
