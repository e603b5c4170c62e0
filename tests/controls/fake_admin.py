"""A stand-in for the Worker's admin API (issue 14's contract: routes, shapes, statuses), for unit tests of the client and the CLI.

It answers exactly as the contract says (shapes, statuses, the one error shape) and records each
request. Integration tests run the real Worker instead (test_integration.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN = "admin-test-token-Q2w9"
OFF: dict[str, Any] = {"maintenance": {"on": False, "message": None}, "limit_per_minute": None, "models": None,
       "max_tokens": None, "budget": None, "updated_at": None}


@dataclass
class FakeAdmin:
    token: str | None = TOKEN  # None: the Worker has no ADMIN_TOKEN, so no admin API
    has_controls: bool = True  # False: a Worker with issue 13's status only
    has_users_list: bool = True  # False: a Worker from before GET /admin/users
    controls: dict[str, Any] = field(default_factory=lambda: json.loads(json.dumps(OFF)))
    tiers: dict[str, int] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    opened: list[tuple[str | None, str | None]] = field(default_factory=list)  # (target, url) per client opened

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        if self.token is None or not request.url.path.startswith("/admin/"):
            return _error(404, "Not found: the gateway serves /v1/* and /health.")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "Missing or wrong admin token.")
        return self.route(request.method, request.url.path, body)

    def route(self, method: str, path: str, body: Any) -> httpx.Response:
        parts = path.split("/")[2:]
        if path == "/admin/status" and method == "GET":
            status = {"generated_at": "2026-11-30T09:00:00.000Z",
                      "gate": {"enabled": False, "scope": "isolate", "waiting": 0, "queue_capacity": 0,
                               "queue_timeout_ms": 10000},
                      "origins": [{"origin": "0", "host": "127.0.0.1:18789", "max_concurrency": None, "in_flight": 0,
                                   "waiting": 0, "healthy": True, "state": "up", "served_last_minute": 3}]}
            if self.has_controls:
                status["controls"] = self.controls
            return httpx.Response(200, json=status)
        if not self.has_controls:
            return _error(404, "Not found: no such admin route.")
        if path == "/admin/controls" and method == "GET":
            return httpx.Response(200, json=self.controls)
        if path == "/admin/controls" and method == "PATCH":
            if not isinstance(body, dict) or set(body) - set(OFF) - {"maintenance"}:
                return _error(400, "The body must be a JSON object of controls.")
            if "limit_per_minute" in body and body["limit_per_minute"] is not None and body["limit_per_minute"] < 0:
                return _error(400, "limit_per_minute must be null or an integer >= 0.")
            self.controls.update(body)
            self.controls["updated_at"] = "2026-11-30 09:00:00.000"
            return httpx.Response(200, json=self.controls)
        if path == "/admin/users" and method == "GET" and self.has_users_list:
            return httpx.Response(200, json={"users": self.directory()})
        if len(parts) == 3 and parts[0] == "users":
            user, action = parts[1], parts[2]
            if action == "tier" and method == "PUT":
                self.tiers[user] = body["limit"]
                return httpx.Response(200, json={"user": user, "limit": body["limit"]})
            if action == "tier" and method == "DELETE":
                self.tiers.pop(user, None)
                return httpx.Response(200, json={"user": user, "limit": None})
            if action == "reissue" and method == "POST":
                self.generations[user] = self.generations.get(user, 0) + 1
                self.revoked.discard(user)
                return httpx.Response(200, json={"user": user, "generation": self.generations[user]})
            if action == "revoke" and method == "POST":
                self.revoked.add(user)
                return httpx.Response(200, json={"user": user, "revoked": True})
        return _error(404, "Not found: no such admin route.")

    def directory(self) -> dict[str, dict[str, Any]]:
        """The user directory as the Worker keeps it: only what was set, per user."""
        users: dict[str, dict[str, Any]] = {}
        for user, limit in self.tiers.items():
            users.setdefault(user, {})["limit"] = limit
        for user, generation in self.generations.items():
            users.setdefault(user, {})["generation"] = generation
        for user in self.revoked:
            users.setdefault(user, {})["revoked"] = True
        return dict(sorted(users.items()))


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": message})
