"""The smoke test: is the gateway up, does a real request go through, and was it logged?

health → one chat completion through the gateway (with the client credential and a model the
origin lists) → its access-log row, found by X-Request-ID. A refused completion is named by its
cause ("the origin refused the key", an unknown model, the origin down). Returns checks; the
caller decides how to show them (table, result.json, exit code).
"""
from __future__ import annotations

import time
from typing import Any

import httpx

from . import queries
from .accesslog import AccessLog
from .client import ClientError, Credentials, choose_model, explain_refusal
from .results import Check

SMOKE_PROMPT = [{"role": "user", "content": "Say hello to the workshop."}]


def _chat(client: httpx.Client, url: str, headers: dict[str, str], model: str) -> tuple[httpx.Response | None, str]:
    try:
        return client.post(f"{url}/v1/chat/completions", headers=headers,
                           json={"model": model, "messages": SMOKE_PROMPT, "max_tokens": 16}), ""
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"


def _wait_for_row(log: AccessLog, request_id: str, timeout: float) -> dict[str, Any] | None:
    """The log is written just after the response: poll briefly for the row."""
    deadline = time.monotonic() + timeout
    while True:
        row = queries.request_by_id(log, request_id)
        if row is not None or time.monotonic() > deadline:
            return row
        time.sleep(0.2)


def run_smoke(url: str, log: AccessLog, *, user_id: str = "smoke-test", key_secret: str | None = None,
              api_key: str | None = None, model: str | None = None, timeout: float = 30.0,
              log_timeout: float = 15.0) -> list[Check]:
    """Runs the smoke checks against the gateway at ``url``; never raises for a failing gateway.

    ``api_key`` (GATEWAY_CLIENT_API_KEY) goes as ``Authorization: Bearer …``; ``model`` defaults to
    the first one the origin lists at ``/v1/models``.
    """
    url = url.rstrip("/")
    checks: list[Check] = []
    headers = Credentials(key_secret=key_secret, api_key=api_key).headers(user_id)
    with httpx.Client(timeout=timeout) as client:
        try:
            health = client.get(f"{url}/health")
            observed: Any = f"{health.status_code} {health.text.strip()[:80]}"
            healthy = health.status_code == 200 and health.json().get("status") == "ok"
        except (httpx.HTTPError, ValueError) as error:
            observed, healthy = f"{type(error).__name__}: {error}", False
        checks.append(Check("gateway health", "200 status ok", observed, healthy))
        if not healthy:
            return checks

        try:
            model = choose_model(url, model, headers)
        except ClientError as error:
            checks.append(Check("chat completion", "200 with an answer", str(error), False))
            return checks
        response, failure = _chat(client, url, headers, model)
    if response is None:
        checks.append(Check("chat completion", "200 with an answer", failure, False))
        return checks
    answer = ""
    try:
        answer = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    served = response.status_code == 200 and bool(answer)
    observed = (f"{response.status_code} {answer[:40] or response.text[:80]!r} ({model})" if response.status_code == 200
                else explain_refusal(response.status_code, response.text, model=model))
    checks.append(Check("chat completion", "200 with an answer", observed, served))
    request_id = response.headers.get("X-Request-ID")
    checks.append(Check("request id returned", "X-Request-ID header", request_id or "missing", bool(request_id)))
    limit = response.headers.get("X-RateLimit-Limit")
    checks.append(Check("rate-limit headers", "X-RateLimit-Limit header", limit or "missing", limit is not None))
    if request_id:
        row = _wait_for_row(log, request_id, log_timeout)
        observed = "no row" if row is None else f"user {row['user_id']}, status {row['status']}"
        passed = row is not None and row["user_id"] == user_id and int(row["status"]) == response.status_code
        checks.append(Check("access-log row", f"user {user_id}, status {response.status_code}", observed, passed))
    return checks
