"""What every ``gateway-ops`` command shares: one-line errors and a clean stop on SIGTERM."""
from __future__ import annotations

import functools
import signal
import sys

import typer

from .exceptions import GatewayOpsError


def friendly_errors(command):
    """Turns library errors into one clear line on stderr and exit status 1 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except GatewayOpsError as error:
            typer.secho(f"Error: {error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None

    return wrapper


def stop_on_sigterm() -> None:
    """SIGTERM ends the command like Ctrl-C does, so `finally`/`with` blocks stop the children."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
