"""Event-day controls through the Worker's admin API (issue 14's contract).

    model   → the controls' shapes and the PATCH body of each change (pure)
    client  → ``AdminClient``: typed calls, every failure one ``AdminError`` sentence
    token   → where the admin token comes from (ADMIN_TOKEN, or the local stack's token file)
    status  → `control status` and the dashboard's line of active controls
    probe   → one request through the gateway, to show what a change did
    widgets → notebook 10's control panel (ipywidgets, imported only there)

Names are imported lazily, as in ``gateway_ops/__init__.py``.
"""
from typing import TYPE_CHECKING

from ..lazy import lazy_exports

_EXPORTS = {
    "AdminClient": "client",
    "open_admin": "client",
    "AdminAuthError": "errors",
    "AdminError": "errors",
    "AdminRequestError": "errors",
    "AdminTokenMissingError": "errors",
    "AdminUnavailableError": "errors",
    "AdminUnreachableError": "errors",
    "Budget": "model",
    "Controls": "model",
    "budget_change": "model",
    "limit_change": "model",
    "maintenance_change": "model",
    "max_tokens_change": "model",
    "models_change": "model",
    "GatewayStatus": "status",
    "controls_line": "status",
    "read_status": "status",
    "status_text": "status",
    "ensure_local_token": "token",
    "find_admin_token": "token",
    "read_local_token": "token",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only (the names __all__ lists)
    from .client import AdminClient, open_admin  # noqa: F401
    from .errors import AdminAuthError, AdminError, AdminRequestError, AdminTokenMissingError  # noqa: F401
    from .errors import AdminUnavailableError, AdminUnreachableError  # noqa: F401
    from .model import Budget, Controls, budget_change, limit_change, maintenance_change  # noqa: F401
    from .model import max_tokens_change, models_change  # noqa: F401
    from .status import GatewayStatus, controls_line, read_status, status_text  # noqa: F401
    from .token import ensure_local_token, find_admin_token, read_local_token  # noqa: F401
