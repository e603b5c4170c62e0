"""The vendored Cloudflare schema subset, and the check that holds the fake to it.

Every test in this folder already runs under that check (``exchanges_follow_cloudflare_schema`` in
the conftest); these tests show that the subset is complete and traceable, and that the check fails
on payloads Cloudflare would not send or accept.
"""
from __future__ import annotations

import json
import re

import httpx
import pytest

from gateway_ops.cloudflare import preflight, resources

from .fake_cloudflare import ACCOUNT, FakeCloudflare
from .openapi_check import CloudflareSchema, Exchange, to_json_schema
from .vendor_openapi_subset import ALIASES, OPERATIONS

KV = f"/accounts/{ACCOUNT}/storage/kv/namespaces"
D1_QUERY = f"/accounts/{ACCOUNT}/d1/database/0b5c8a4e-2f44-4c2a-9a5c-2d6a7e1f0c11/query"
OK = {"success": True, "errors": [], "messages": [], "result": None}


def json_exchange(method: str, path: str, body=None, status=200, answer=None, query=None) -> Exchange:
    return Exchange(method, path, query or {}, "application/json" if body is not None else "",
                    json.dumps(body).encode() if body is not None else b"", status, "application/json",
                    json.dumps(answer if answer is not None else OK).encode())


def test_the_subset_names_its_source_commit_and_date(cloudflare_schema: CloudflareSchema) -> None:
    source = cloudflare_schema.source
    assert source["repository"] == "https://github.com/cloudflare/api-schemas" and source["file"] == "openapi.json"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]) and re.match(r"\d{4}-\d\d-\d\dT", source["commit_date"])
    assert cloudflare_schema.subset["info"]["x-errata"]  # every departure from the source is written down


def test_the_subset_has_every_endpoint_gateway_ops_calls_and_every_ref_it_needs(
    cloudflare_schema: CloudflareSchema,
) -> None:
    subset = cloudflare_schema.subset
    wanted = {(path, method) for path, method in OPERATIONS} | set(ALIASES)
    assert wanted == {(path, method) for path, item in subset["paths"].items() for method in item}
    text = json.dumps(subset)
    for ref in set(re.findall(r'"\$ref": "#/components/([^/"]+)/([^"]+)"', text)):
        assert ref[1] in subset["components"][ref[0]], ref


def test_the_fake_answers_a_real_client_within_the_schema(fake: FakeCloudflare, client, cloudflare_schema) -> None:
    resources.find_or_create_kv_namespace(client, ACCOUNT, "organized-gateway-GATEWAY_KV")
    resources.find_or_create_d1_database(client, ACCOUNT, "organized-gateway")
    preflight.check_token(client, ACCOUNT)
    assert fake.exchanges and all(exchange.status == 200 for exchange in fake.exchanges)
    assert [p for exchange in fake.exchanges for p in cloudflare_schema.problems(exchange)] == []


@pytest.mark.parametrize(
    ("exchange", "problem"),
    [
        (json_exchange("POST", KV, {"name": "organized-gateway"}), "request body 'title' is a required property"),
        (json_exchange("POST", D1_QUERY, {"sql": 7}), "request body at sql: 7 is not of type 'string'"),
        (json_exchange("GET", KV, answer={**OK, "result": {"id": "x", "title": "y"}}),
         "response body at result: {'id': 'x', 'title': 'y'} is not of type 'array'"),
        (json_exchange("GET", KV, answer={**OK, "result": [{"id": "ab12"}]}),
         "response body at result/0: 'title' is a required property"),
        (json_exchange("GET", KV, answer={**OK, "success": "yes"}), "response body at success: 'yes' is not one of"),
        (json_exchange("GET", KV, answer={**OK, "result": [], "result_info": {"page": 1, "total_pages": 1}}),
         "response body at /result_info: property 'total_pages' is not in the schema"),
        (json_exchange("GET", KV, answer={**OK, "result": [{"id": "ab", "title": "t", "size": 3}]}),
         "response body at /result/0: property 'size' is not in the schema"),
        (json_exchange("GET", KV, status=403, answer={**OK, "errors": [{"code": 10000, "message": "x"}]}),
         "response body at success: True is not one of [False]"),
        (json_exchange("GET", KV, status=302), "status 302 is not documented"),
        (json_exchange("GET", f"/accounts/{ACCOUNT}/d1/database", query={"per_page": "5"},
                       answer={**OK, "result": []}), "query per_page='5': 5 is less than the minimum of 10"),
        (json_exchange("GET", KV, query={"limit": "5"}, answer={**OK, "result": []}),
         "query parameter 'limit' is not declared"),
        (json_exchange("GET", f"/accounts/{ACCOUNT}/r2/buckets"), "this endpoint is not in the vendored"),
        (json_exchange("DELETE", KV), "this endpoint is not in the vendored"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_the_check_fails_on_a_wrong_payload(cloudflare_schema: CloudflareSchema, exchange: Exchange, problem: str):
    problems = cloudflare_schema.problems(exchange)
    assert any(problem in p for p in problems), problems


def test_the_check_reads_a_worker_upload_as_its_multipart_parts(cloudflare_schema: CloudflareSchema) -> None:
    def upload(metadata: str) -> Exchange:
        request = httpx.Request("PUT", "http://x", files={"metadata": (None, metadata, "application/json"),
                                                          "index.js": ("index.js", b"export default {}")})
        return Exchange("PUT", f"/accounts/{ACCOUNT}/workers/scripts/organized-gateway", {},
                        request.headers["content-type"], request.read(), 200, "application/json",
                        json.dumps({**OK, "result": {"id": "organized-gateway"}}).encode())

    assert cloudflare_schema.problems(upload('{"main_module": "index.js", "bindings": []}')) == []
    wrong = cloudflare_schema.problems(upload('{"main_module": 3, "bindings": "none"}'))
    assert any("main_module" in p for p in wrong) and any("bindings" in p for p in wrong), wrong
    assert any("not JSON" in p for p in cloudflare_schema.problems(upload("{broken")))


def test_a_fake_that_invents_a_payload_fails_the_check(fake: FakeCloudflare, client, cloudflare_schema) -> None:
    """The check at work on the suite's own path: a fake whose KV create answer lost ``title``."""
    fake.inject("POST", r"/storage/kv/namespaces$", httpx.Response(200, json={**OK, "result": {"id": "abc"}}))
    resources.create_kv_namespace(client, ACCOUNT, "organized-gateway-GATEWAY_KV")
    problems = [p for exchange in fake.exchanges for p in cloudflare_schema.problems(exchange)]
    assert problems == [f"POST {KV} → 200: response body at result: 'title' is a required property"]
    fake.exchanges.clear()  # shown failing; keep this test's own teardown check quiet


def test_nullable_and_one_of_are_read_as_openapi_means_them() -> None:
    assert to_json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert to_json_schema({"allOf": [{"$ref": "#/x"}], "nullable": True}) == {
        "anyOf": [{"allOf": [{"$ref": "#/x"}]}, {"type": "null"}]}
    assert to_json_schema({"oneOf": [{"type": "object"}, {"type": "object"}]}) == {
        "anyOf": [{"type": "object"}, {"type": "object"}]}
