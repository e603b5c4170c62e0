"""An HTTP-level fake of exactly the Cloudflare API endpoints gateway_ops uses.

Payloads follow Cloudflare's API documentation: the ``{"success", "errors", "messages",
"result"}`` envelope (``result_info`` on list endpoints, paginated by ``page``/``per_page``),
error envelopes with Cloudflare's codes, and D1's query results. D1 databases are real SQLite
databases, so SQL sent by the migrator or the access log really runs (statements of one request
run atomically, as D1 runs them). Every request is recorded for assertions, and every exchange
(request and answer) is checked after each test against Cloudflare's published OpenAPI schema
(``openapi_check.py``, ``cloudflare_openapi_subset.json``).
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import httpx

from .openapi_check import Exchange

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "fake-token-Vx9Yq2Lm8Rt4"
PREFIX = "/client/v4"


def envelope(result: Any = None, *, result_info: dict | None = None, messages: list | None = None) -> dict:
    body = {"success": True, "errors": [], "messages": messages or [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def error_response(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "errors": [{"code": code, "message": message}],
                                        "messages": [], "result": None})


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any

    @property
    def sql(self) -> str:
        return (self.body or {}).get("sql", "") if isinstance(self.body, dict) else ""


def split_sql(sql: str) -> list[str]:
    """Statements in the order SQLite would run them (';' inside strings/comments respected)."""
    statements, buffer = [], ""
    for piece in sql.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if re.sub(r"--[^\n]*", "", buffer).strip(" \n\t;"):
                statements.append(buffer.strip())
            buffer = ""
    if re.sub(r"--[^\n]*", "", buffer).strip(" \n\t;"):
        statements.append(buffer.strip())
    return statements


class FakeD1:
    """One D1 database: a SQLite connection (in memory, or a file opened read-only)."""

    def __init__(self, name: str, path: Path | None = None):
        self.name = name
        self.uuid = str(uuid.uuid4())
        self.created_at = "2026-11-28T09:00:00.000Z"
        target = f"file:{path}?mode=ro" if path else ":memory:"
        self.db = sqlite3.connect(target, uri=True, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.statements: list[str] = []

    def query(self, sql: str, params: list[str]) -> httpx.Response:
        results = []
        self.db.execute("SAVEPOINT request")
        try:
            for statement in split_sql(sql):
                self.statements.append(statement)
                started = time.perf_counter()
                cursor = self.db.execute(statement, params if params else [])
                rows = [dict(row) for row in cursor.fetchall()]
                results.append({"results": rows, "success": True, "meta": {
                    "changed_db": cursor.rowcount > 0, "changes": max(cursor.rowcount, 0),
                    "duration": round((time.perf_counter() - started) * 1000, 3), "last_row_id": cursor.lastrowid or 0,
                    "rows_read": len(rows), "rows_written": max(cursor.rowcount, 0), "size_after": 16384}})
        except sqlite3.Error as error:
            self.db.execute("ROLLBACK TO request")
            self.db.execute("RELEASE request")
            return error_response(400, 7500, f"{error}: SQLITE_ERROR")
        self.db.execute("RELEASE request")
        return httpx.Response(200, json=envelope(results))

    def tables(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


@dataclass
class FakeCloudflare:
    """State of one fake account, and the request handler for ``httpx.MockTransport``."""

    account_id: str = ACCOUNT
    token: str = TOKEN
    token_status: str = "active"
    #: "user" tokens verify at /user/tokens/verify; "account" tokens only at /accounts/{id}/tokens/verify
    token_kind: str = "user"
    #: permission areas the token lacks: "workers", "kv", "d1"
    denied: set[str] = field(default_factory=set)
    kv: dict[str, str] = field(default_factory=dict)  # id → title
    d1: dict[str, FakeD1] = field(default_factory=dict)  # uuid → database
    scripts: dict[str, dict] = field(default_factory=dict)  # name → {"secrets": {name: text}, "uploads": n}
    requests: list[Recorded] = field(default_factory=list)
    #: (method, path regex) → list of responses/exceptions served before the normal handler
    injected: list[tuple[str, str, Any]] = field(default_factory=list)
    #: every request with its answer, for the schema check (``requests`` may be cleared by a test)
    exchanges: list[Exchange] = field(default_factory=list)
    #: the fakes made since the last ``created.clear()``: the conftest checks each one's exchanges
    created: ClassVar[list[FakeCloudflare]] = []

    def __post_init__(self) -> None:
        FakeCloudflare.created.append(self)

    # --- test helpers -------------------------------------------------------------------------
    def http_client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def inject(self, method: str, path_pattern: str, outcome: Any, times: int = 1) -> None:
        """Serve ``outcome`` (an httpx.Response, or an exception to raise) for matching requests."""
        for _ in range(times):
            self.injected.append((method, path_pattern, outcome))

    def add_kv(self, title: str) -> str:
        namespace_id = uuid.uuid4().hex
        self.kv[namespace_id] = title
        return namespace_id

    def add_d1(self, name: str, path: Path | None = None) -> FakeD1:
        database = FakeD1(name, path)
        self.d1[database.uuid] = database
        return database

    def mutating(self) -> list[Recorded]:
        """Requests that change something: every non-GET except D1 queries that only SELECT."""
        return [r for r in self.requests if r.method != "GET" and not (
            r.path.endswith("/query") and all(s.lstrip().upper().startswith("SELECT") for s in split_sql(r.sql)))]

    # --- the handler --------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(PREFIX)
        exchange = Exchange(request.method, path, {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()},
                            request.headers.get("content-type", ""), request.content)
        try:
            response = self._handle(request)
        except Exception:
            self.exchanges.append(exchange)
            raise
        response.read()
        self.exchanges.append(replace(
            exchange, status=response.status_code, response_type=response.headers.get("content-type", ""),
            response_body=response.content))
        return response

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(PREFIX)
        query = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        body: Any = None
        content_type = request.headers.get("content-type", "")
        if request.content and content_type.startswith("application/json"):
            body = json.loads(request.content)
        elif request.content:
            body = request.content
        self.requests.append(Recorded(request.method, path, query, body))
        for index, (method, pattern, outcome) in enumerate(self.injected):
            if method == request.method and re.search(pattern, path):
                del self.injected[index]
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome
        if request.headers.get("authorization") != f"Bearer {self.token}":
            if path.endswith("/tokens/verify"):
                return error_response(401, 1000, "Invalid API Token")
            return error_response(401, 10000, "Authentication error")
        return self.route(request.method, path, query, body)

    def route(self, method: str, path: str, query: dict, body: Any) -> httpx.Response:
        if path == "/user/tokens/verify" and method == "GET":
            if self.token_kind != "user":
                return error_response(401, 1000, "Invalid API Token")
            return self.verified()
        match = re.fullmatch(r"/accounts/([^/]+)(/.*)", path)
        if not match:
            return error_response(404, 7003, f"Could not route to {path}, perhaps your object identifier is invalid?")
        account, rest = match.groups()
        if rest == "/tokens/verify" and method == "GET":
            return self.verified() if account == self.account_id else error_response(401, 1000, "Invalid API Token")
        area = "d1" if rest.startswith("/d1/") else "kv" if rest.startswith("/storage/kv/") else "workers"
        if account != self.account_id or area in self.denied:
            if area == "d1":
                return error_response(403, 7403, "The given account is not valid or is not authorized to access "
                                                 "this service")
            return error_response(403, 10000, "Authentication error")
        return self.account_route(method, rest, query, body)

    def verified(self) -> httpx.Response:
        return httpx.Response(200, json=envelope(
            {"id": "ed17574386854bf78a67040be0a770b0", "status": self.token_status},
            messages=[{"code": 10000, "message": "This API Token is valid and active"}]))

    def account_route(self, method: str, rest: str, query: dict, body: Any) -> httpx.Response:
        if rest == "/storage/kv/namespaces":
            if method == "GET":
                items = [{"id": i, "title": t, "supports_url_encoding": True} for i, t in self.kv.items()]
                return self.page(items, query, default_per_page=20)
            if method == "POST":
                if body["title"] in self.kv.values():
                    return error_response(400, 10014, "a namespace with this account ID and title already exists")
                namespace_id = self.add_kv(body["title"])
                return httpx.Response(200, json=envelope({"id": namespace_id, "title": body["title"],
                                                          "supports_url_encoding": True}))
        if rest == "/d1/database":
            if method == "GET":
                items = [{"uuid": d.uuid, "name": d.name, "version": "production", "created_at": d.created_at}
                         for d in self.d1.values() if query.get("name", "") in d.name]
                return self.page(items, query, default_per_page=1000)
            if method == "POST":
                if any(d.name == body["name"] for d in self.d1.values()):
                    return error_response(400, 7502, "A database with that name already exists")
                database = self.add_d1(body["name"])
                return httpx.Response(200, json=envelope({"uuid": database.uuid, "name": database.name,
                                                          "version": "production", "created_at": database.created_at}))
        if (match := re.fullmatch(r"/storage/kv/namespaces/([^/]+)", rest)) and method == "DELETE":
            if self.kv.pop(match.group(1), None) is None:
                return error_response(404, 10013, "delete namespace: 'namespace not found'")
            return httpx.Response(200, json=envelope(None))
        if (match := re.fullmatch(r"/d1/database/([^/]+)", rest)) and method == "DELETE":
            if self.d1.pop(match.group(1), None) is None:
                return error_response(404, 7404, "The database could not be found")
            return httpx.Response(200, json=envelope(None))
        if match := re.fullmatch(r"/d1/database/([^/]+)/query", rest):
            found = self.d1.get(match.group(1))
            if found is None:
                return error_response(404, 7404, "The database could not be found")
            return found.query(body.get("sql", ""), body.get("params") or [])
        if rest == "/workers/scripts" and method == "GET":
            return httpx.Response(200, json=envelope([
                {"id": name, "created_on": "2026-11-28T09:00:00Z", "modified_on": "2026-11-28T09:00:00Z",
                 "etag": uuid.uuid4().hex} for name in self.scripts]))
        if match := re.fullmatch(r"/workers/scripts/([^/]+)", rest):
            if method == "PUT":
                raw = body if isinstance(body, bytes) else b""
                if b'name="metadata"' not in raw or b"main_module" not in raw:
                    return error_response(400, 10021, "Uncaught SyntaxError: no metadata part")
                script = self.scripts.setdefault(match.group(1), {"secrets": {}, "uploads": 0})
                script["uploads"] += 1
                return httpx.Response(200, json=envelope({"id": match.group(1), "etag": uuid.uuid4().hex}))
            if method == "DELETE":
                if self.scripts.pop(match.group(1), None) is None:
                    return error_response(404, 10007, "This Worker does not exist on your account.")
                # The schema's Workers envelope declares no result: the deletion has no body beyond it.
                return httpx.Response(200, json={"success": True, "errors": [], "messages": []})
        if match := re.fullmatch(r"/workers/scripts/([^/]+)/secrets", rest):
            existing = self.scripts.get(match.group(1))
            if existing is None:
                return error_response(404, 10007, "This Worker does not exist on your account.")
            if method == "GET":
                return httpx.Response(200, json=envelope([{"name": n, "type": "secret_text"} for n in existing["secrets"]]))
            if method == "PUT":
                existing["secrets"][body["name"]] = body["text"]
                return httpx.Response(200, json=envelope({"name": body["name"], "type": "secret_text"}))
        return error_response(404, 7003, f"Could not route to /accounts/{self.account_id}{rest}, perhaps your object "
                                         "identifier is invalid?")

    @staticmethod
    def page(items: list[dict], query: dict, default_per_page: int) -> httpx.Response:
        page = int(query.get("page", 1))
        per_page = int(query.get("per_page", default_per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        return httpx.Response(200, json=envelope(chunk, result_info={
            "page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items)}))
