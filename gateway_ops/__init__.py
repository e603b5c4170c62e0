"""gateway_ops — operate organized-gateway: local stack, access log, smoke tests, notebooks.

The public surface is re-exported here; modules are free to change behind it.
"""
from .accesslog import AccessLog, CloudflareAccessLog, LocalAccessLog, open_access_log
from .exceptions import (
    AccessLogError,
    GatewayOpsError,
    NotebookError,
    PortInUseError,
    SettingsError,
    StackError,
)
from .keys import user_key
from .notebooks import NotebookRun, run_notebook
from .results import Check, checks_frame, write_result
from .settings import Settings, load_settings
from .smoke import run_smoke
from .stack import LocalStack, StackConfig, local_stack

__all__ = [
    "AccessLog",
    "AccessLogError",
    "Check",
    "CloudflareAccessLog",
    "GatewayOpsError",
    "LocalAccessLog",
    "LocalStack",
    "NotebookError",
    "NotebookRun",
    "PortInUseError",
    "Settings",
    "SettingsError",
    "StackConfig",
    "StackError",
    "checks_frame",
    "load_settings",
    "local_stack",
    "open_access_log",
    "run_notebook",
    "run_smoke",
    "user_key",
    "write_result",
]
