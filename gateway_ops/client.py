"""How the suite's own traffic (smoke, load tests, demo, tier probe) presents itself, which model
it asks for, and what a refusal means.

A real origin refuses a request without its key and knows only its own models, so every request
the suite sends carries the client credential (``GATEWAY_CLIENT_API_KEY`` → ``Authorization:
Bearer …``) and a model the origin lists at ``/v1/models`` (asked through the gateway, unless one
is given). :func:`explain_refusal` turns an answer that is not a success into one sentence naming
its cause — the origin's errors (OpenAI's shape, ``{"error": {"message", "code", …}}``) are told
apart from the gateway's own (``{"error": "<sentence>"}``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from .exceptions import GatewayOpsError
from .keys import user_key


class ClientError(GatewayOpsError):
    """The suite's own request was refused before any check could run (e.g. no model could be found)."""


@dataclass(frozen=True)
class Credentials:
    """What the suite's requests carry besides ``X-User-ID``: the attendee key the Worker verifies
    (``USER_KEY_SECRET`` → ``X-User-Key``) and the key the origin requires
    (``GATEWAY_CLIENT_API_KEY`` → ``Authorization``). Values never show in a repr."""

    key_secret: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Any) -> Credentials:
        return cls(key_secret=settings.user_key_secret, api_key=settings.client_api_key)

    def headers(self, user_id: str) -> dict[str, str]:
        """``X-User-ID``, and ``X-User-Key`` / ``Authorization: Bearer …`` when configured."""
        headers = {"X-User-ID": user_id}
        if self.key_secret:
            headers["X-User-Key"] = user_key(self.key_secret, user_id)
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


def listed_models(url: str, headers: dict[str, str], *, timeout: float = 30.0) -> list[str]:
    """The model ids the origin lists at ``/v1/models``, asked through the gateway at ``url``.

    :raises ClientError: naming the cause when the answer is not a model list
    """
    try:
        response = httpx.get(f"{url.rstrip('/')}/v1/models", headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        raise ClientError(f"Asking {url} for /v1/models failed ({type(error).__name__}): is the gateway up?") from None
    if response.status_code != 200:
        raise ClientError(f"Asking for /v1/models, {explain_refusal(response.status_code, response.text)}.")
    try:
        return [str(entry["id"]) for entry in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise ClientError("The origin's /v1/models answer is not a model list; name a model with --model.") from None


def choose_model(url: str, model: str | None, headers: dict[str, str]) -> str:
    """``model`` when given, else the first model the origin lists.

    :raises ClientError: when no model is given and the origin lists none (or cannot be asked)
    """
    if model:
        return model
    models = listed_models(url, headers)
    if not models:
        raise ClientError("The origin lists no models at /v1/models; name one with --model.")
    return models[0]


def _error_of(body: str) -> tuple[str, str, bool]:
    """(message, code, from_origin) of an error body: the origin answers in OpenAI's shape, the
    gateway with ``{"error": "<sentence>"}``."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return body.strip()[:160], "", False
    if isinstance(error, dict):
        return str(error.get("message") or "")[:160], str(error.get("code") or error.get("type") or ""), True
    return str(error or "")[:160], "", False


def explain_refusal(status: int, body: str, *, model: str | None = None) -> str:
    """One sentence saying why a request was not served (``status`` 0: no HTTP answer)."""
    message, code, from_origin = _error_of(body)
    said = f"{status}{' ' + code if code else ''}: {message}" if message else f"{status}{' ' + code if code else ''}"
    if status == 0:
        return f"the gateway did not answer ({message or 'no HTTP status'})"
    if from_origin and status == 401:
        return (f"the origin refused the key ({said}): set GATEWAY_CLIENT_API_KEY (or, in codex mode, "
                "GATEWAY_CODEX_TOKEN) to the credential the origin accepts")
    if from_origin and status == 403:
        return f"the origin refused the key ({said}): it lacks permission for this request"
    if from_origin and status == 404 and code == "model_not_found":
        return (f"the origin does not know the model {model!r} ({said}): choose one it lists at /v1/models "
                "(--model, or the model parameter)")
    if from_origin and status == 404:
        return f"the origin has no such endpoint ({said})"
    if status == 502:
        return f"the origin cannot be reached ({said}): is it running, and is OPENCLAW_URL right?"
    if status == 504:
        return f"the origin did not answer in time ({said})"
    if status == 503:
        return f"the origin is overloaded or unavailable ({said})"
    if status >= 500:
        return f"the origin failed ({said})"
    if status == 429:
        return f"the gateway's per-user limit refused the request ({said})"
    return f"the gateway refused the request ({said})"
