"""Errors of the admin API client, one sentence each that says what to do.

Every failure of an admin call is translated here, at the boundary (as httpx maps httpcore's
errors): the CLI prints the sentence, the control panel and the dashboard show it.
"""
from __future__ import annotations

from ..exceptions import GatewayOpsError


class AdminError(GatewayOpsError):
    """The gateway's admin API could not do what was asked."""


class AdminTokenMissingError(AdminError):
    """No admin token is known here (ADMIN_TOKEN unset, no local token file)."""


class AdminAuthError(AdminError):
    """The gateway refused the admin token (401): it is not the Worker's ADMIN_TOKEN."""


class AdminUnreachableError(AdminError):
    """The gateway could not be reached, or did not answer in time."""


class AdminUnavailableError(AdminError):
    """The gateway has no admin API (its ADMIN_TOKEN is unset), or not the route asked for."""


class AdminRequestError(AdminError):
    """A control value is malformed: refused here before sending, or by the Worker (400)."""
