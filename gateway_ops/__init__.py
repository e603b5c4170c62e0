"""gateway_ops — operate organized-gateway: local stack, access log, smoke tests, notebooks.

The public surface is re-exported here, imported lazily (PEP 562) so that light entry points —
the simulated origin, the CLI's help — do not pay for pandas and Jupyter at start-up.
"""
from typing import TYPE_CHECKING

from .lazy import lazy_exports

_EXPORTS = {
    "AccessLog": "accesslog",
    "CloudflareAccessLog": "accesslog",
    "LocalAccessLog": "accesslog",
    "open_access_log": "accesslog",
    "AccessLogError": "exceptions",
    "GatewayOpsError": "exceptions",
    "NotebookError": "exceptions",
    "PortInUseError": "exceptions",
    "SettingsError": "exceptions",
    "StackError": "exceptions",
    "user_key": "keys",
    "NotebookRun": "notebooks",
    "run_notebook": "notebooks",
    "Check": "results",
    "checks_frame": "results",
    "write_result": "results",
    "Settings": "settings",
    "load_settings": "settings",
    "run_smoke": "smoke",
    "LocalStack": "stack",
    "StackConfig": "stack",
    "local_stack": "stack",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from .accesslog import AccessLog, CloudflareAccessLog, LocalAccessLog, open_access_log
    from .exceptions import AccessLogError, GatewayOpsError, NotebookError, PortInUseError, SettingsError, StackError
    from .keys import user_key
    from .notebooks import NotebookRun, run_notebook
    from .results import Check, checks_frame, write_result
    from .settings import Settings, load_settings
    from .smoke import run_smoke
    from .stack import LocalStack, StackConfig, local_stack
