"""Errors gateway_ops raises, each one sentence a facilitator can act on.

    GatewayOpsError
    ├── SettingsError        a setting is missing or malformed
    ├── StackError           the local stack could not start or stopped unexpectedly
    │   └── PortInUseError   a port the stack needs is already taken
    ├── AccessLogError       the access log could not be read
    └── NotebookError        a notebook failed while running

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
