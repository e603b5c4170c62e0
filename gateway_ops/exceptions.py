"""Errors gateway_ops raises, each one sentence a facilitator can act on.

The whole hierarchy (as httpx's ``_exceptions.py`` draws it); classes defined elsewhere name their
module in brackets. ``tests/test_exceptions.py`` keeps this drawing and the real classes in step::

    GatewayOpsError
    ├── SettingsError                  a setting is missing or malformed
    ├── StackError                     the local stack could not start or stopped unexpectedly
    │   └── PortInUseError             a port the stack needs is already taken
    ├── AccessLogError                 the access log could not be read
    ├── NotebookError                  a notebook failed while running
    ├── TimeRangeError                 [dashboards.ranges] a time range cannot be read, or ends before it starts
    ├── ReportError                    [dashboards.report] the event report could not be written
    ├── ArchiveError                   [dashboards.archive] an archive could not be written, checked, sent or deleted
    ├── AttendeeError                  [attendees.roster] a roster, tier or token file is malformed
    ├── LoadTestError                  [loadtest.errors] a load-test plan is invalid (also a ValueError)
    ├── AdminError                     [controls.errors] the gateway's admin API could not do what was asked
    │   ├── AdminTokenMissingError     no admin token is known here (ADMIN_TOKEN, local token file)
    │   ├── AdminAuthError             the gateway refused the admin token (401)
    │   ├── AdminUnreachableError      the gateway could not be reached, or did not answer in time
    │   ├── AdminUnavailableError      the gateway has no admin API, or not that route (404)
    │   └── AdminRequestError          a control value is malformed (refused here, or by the Worker: 400)
    ├── ClientError                    [client] the suite's own request was refused before a check could run
    └── CloudflareError                [cloudflare.errors] anything that went wrong talking to Cloudflare
        ├── CloudflareAuthError        the token is missing, malformed, expired or revoked (401)
        ├── CloudflarePermissionError  the token lacks a permission, or the account id is wrong (403)
        ├── CloudflareNotFoundError    the account, Worker, namespace or database does not exist (404)
        ├── CloudflareRequestError     Cloudflare refused the request as invalid (400, 409, 422)
        ├── CloudflareRateLimitError   the API's own rate limit (429)
        ├── CloudflareServerError      Cloudflare's API failed (5xx)
        ├── CloudflareNetworkError     the API could not be reached, or did not answer in time
        ├── NameClashError             wrangler.toml and the account disagree about a resource
        ├── PreflightError             the token cannot do what bootstrap needs
        ├── MigrationError             a D1 migration failed (and was rolled back)
        └── WranglerError              wrangler failed or timed out (cloudflare.wrangler runs it)
            └── WranglerNotInstalledError  the Worker's packages, and so wrangler, are not installed

The CLI prints ``str(error)`` of any of these and exits non-zero: no traceback for a foreseeable
failure.
"""


class GatewayOpsError(Exception):
    """Base class for every error gateway_ops raises on purpose."""


class SettingsError(GatewayOpsError):
    """A setting is missing or malformed."""


class StackError(GatewayOpsError):
    """The local stack could not start, or a part of it stopped unexpectedly."""


class PortInUseError(StackError):
    """A port the local stack needs is already in use."""


class AccessLogError(GatewayOpsError):
    """The access log could not be found or read."""


class NotebookError(GatewayOpsError):
    """A notebook failed while running under papermill."""
