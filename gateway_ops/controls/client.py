"""A small typed client of the Worker's admin API (``/admin/*``, ``Authorization: Bearer <ADMIN_TOKEN>``).

Every failure leaves as one ``AdminError`` sentence (see ``errors``): no token, wrong token,
gateway unreachable, admin API absent, value refused. The token is sent only in the header and
never appears in an error, a log line or a repr.
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

from ..settings import Settings
from .errors import (
    AdminAuthError,
    AdminError,
    AdminRequestError,
    AdminTokenMissingError,
    AdminUnavailableError,
    AdminUnreachableError,
)
from .model import Controls
from .token import find_admin_token, missing_token_sentence

#: Admin calls must fail fast for a facilitator acting during an event.
TIMEOUT = httpx.Timeout(10, connect=3)


class AdminClient:
    """The admin API of the gateway at ``url``.

    :param token: the Worker's ADMIN_TOKEN; None raises ``AdminTokenMissingError`` on the first call
    :param missing_token: the sentence for that error (what to do, for this target)
    :param transport: an httpx transport (tests pass ``httpx.MockTransport``)
    :param status_max_age: seconds a ``status()`` answer (or failure) is reused: readers that share
        this client within that time (a dashboard refresh's origin panel and controls line) cost the
        gateway one read, and a hung gateway one timeout; 0 reads every time
    """

    def __init__(self, url: str, token: str | None, *, missing_token: str | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: httpx.Timeout | float = TIMEOUT,
                 status_max_age: float = 0.0):
        self.url = url.rstrip("/")
        self._token = token
        self._missing = missing_token or "No admin token: export ADMIN_TOKEN."
        self._http = httpx.Client(base_url=self.url, transport=transport, timeout=timeout)
        self._status_max_age = status_max_age
        self._last_status: tuple[float, dict[str, Any] | AdminError] | None = None

    def __repr__(self) -> str:
        return f"AdminClient({self.url!r}, token={'set' if self._token else 'missing'})"

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    def token_in(self, text: str) -> bool:
        """Whether ``text`` holds this client's token (to prove a page shows no secret)."""
        return self._token is not None and self._token != "" and self._token in text

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the contract's calls -----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """``GET /admin/status``: the gate (per origin: in flight, waiting, healthy) and, when the
        Worker has them, the controls (reused for ``status_max_age`` seconds)."""
        now = time.monotonic()
        if self._last_status is not None and now - self._last_status[0] < self._status_max_age:
            answer = self._last_status[1]
            if isinstance(answer, AdminError):
                raise answer
            return answer
        try:
            answer = self._call("GET", "/admin/status")
        except AdminError as error:
            self._last_status = (now, error)
            raise
        self._last_status = (now, answer)
        return answer

    def controls(self) -> Controls:
        """``GET /admin/controls``."""
        return Controls.from_json(self._call("GET", "/admin/controls"))

    def change(self, change: dict[str, Any]) -> Controls:
        """``PATCH /admin/controls`` with one or more controls; returns the controls now in force."""
        return Controls.from_json(self._call("PATCH", "/admin/controls", change))

    def users(self) -> dict[str, dict[str, Any]]:
        """``GET /admin/users``: the Worker's user directory, ``{user: {"limit"?, "generation"?, "revoked"?}}``
        (only users with an admin tier, a reissued key or a revocation)."""
        answer = self._call("GET", "/admin/users")
        users = answer.get("users") if isinstance(answer, dict) else None
        if not isinstance(users, dict) or not all(isinstance(entry, dict) for entry in users.values()):
            raise AdminError(f"The gateway answered GET /admin/users in an unexpected shape: {str(answer)[:200]}.")
        return users

    def set_tier(self, user: str, limit: int) -> dict[str, Any]:
        """``PUT /admin/users/{user}/tier``: this user's limit (0 blocks), at once."""
        return self._call("PUT", f"/admin/users/{_segment(user)}/tier", {"limit": int(limit)})

    def clear_tier(self, user: str) -> dict[str, Any]:
        """``DELETE /admin/users/{user}/tier``: the user falls back to the shared limit."""
        return self._call("DELETE", f"/admin/users/{_segment(user)}/tier")

    def reissue(self, user: str) -> int:
        """``POST /admin/users/{user}/reissue``: the user's new key generation (only its key works now)."""
        answer = self._call("POST", f"/admin/users/{_segment(user)}/reissue")
        generation = answer.get("generation")
        if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
            raise AdminError(f"The gateway answered a reissue without a key generation: {str(answer)[:200]}.")
        return generation

    def revoke(self, user: str) -> dict[str, Any]:
        """``POST /admin/users/{user}/revoke``: every key of the user fails until a reissue."""
        return self._call("POST", f"/admin/users/{_segment(user)}/revoke")

    # -- transport and error translation ----------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        if not self._token:
            raise AdminTokenMissingError(self._missing)
        try:
            response = self._http.request(method, path, json=body,
                                          headers={"Authorization": f"Bearer {self._token}"})
        except httpx.TimeoutException:
            raise AdminUnreachableError(f"The gateway at {self.url} did not answer {method} {path} in time: "
                                        f"is it overloaded or stopped?") from None
        except httpx.HTTPError as error:
            raise AdminUnreachableError(f"The gateway at {self.url} cannot be reached ({type(error).__name__}): "
                                        f"is it running, and is GATEWAY_URL right?") from None
        return self._answer(method, path, response)

    def _answer(self, method: str, path: str, response: httpx.Response) -> Any:
        message = _error_text(response)
        if response.status_code == 401:
            raise AdminAuthError(f"The gateway at {self.url} refused the admin token (401): ADMIN_TOKEN here is not "
                                 f"the Worker's.")
        if response.status_code == 404:
            if "admin route" in message:
                raise AdminUnavailableError(f"The gateway at {self.url} has no admin route {method} {path}: its Worker "
                                            f"predates this control — deploy the current Worker.")
            raise AdminUnavailableError(f"The gateway at {self.url} has no admin API (404): its Worker has no "
                                        f"ADMIN_TOKEN — set it (`gateway-ops secrets set ADMIN_TOKEN --from-env "
                                        f"ADMIN_TOKEN`) or restart the local stack.")
        if response.status_code == 400:
            raise AdminRequestError(f"The gateway refused the change: {message or 'bad request'}")
        if response.status_code >= 300:
            raise AdminError(f"The admin API answered {method} {path} with HTTP {response.status_code}"
                             + (f": {message}" if message else "."))
        try:
            return response.json()
        except ValueError:
            raise AdminError(f"The admin API answered {method} {path} with something that is not JSON.") from None


def _segment(user: str) -> str:
    """A user id as one path segment (``/`` and ``#`` escaped)."""
    if not user or not user.strip():
        raise AdminRequestError("A user id is needed.")
    return quote(user, safe="")


def _error_text(response: httpx.Response) -> str:
    """The gateway's one error sentence (``{"error": "…"}``), or nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def open_admin(settings: Settings, target: str | None = None, url: str | None = None,
               transport: httpx.BaseTransport | None = None) -> AdminClient:
    """The admin client for the gateway of ``url`` (default: GATEWAY_URL or the local stack), with
    the token from ADMIN_TOKEN or, for the local target, the state folder."""
    return AdminClient(url or settings.gateway_url, find_admin_token(settings, target),
                       missing_token=missing_token_sentence(settings, target), transport=transport)
