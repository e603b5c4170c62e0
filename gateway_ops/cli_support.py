"""What every ``gateway-ops`` command shares: the options several commands take, one-line errors
and a clean stop on SIGTERM.

Each command area (``cli_cloudflare``, ``cli_attendees``, ``cli_loadtest``, ``cli_dashboard``) is a
``typer.Typer`` named ``app`` whose commands are registered with ``@app.command()``, and
``cli.py`` mounts every area with ``add_typer``. An option that several commands take is declared
once here, as an ``Annotated`` type (as sqlite-utils' ``output_options`` decorator is), so its
name and help stay the same everywhere.
"""
from __future__ import annotations

import functools
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .exceptions import GatewayOpsError

#: Where a command reads or writes: the local stack or the deployed gateway.
Target = Annotated[Optional[str], typer.Option(help="local or cloudflare (default: GATEWAY_TARGET)")]
#: The gateway a command sends requests to.
GatewayUrl = Annotated[Optional[str], typer.Option(help="gateway URL (default: GATEWAY_URL or the local stack)")]
#: The folder a load test writes result.json and its other files into.
RunFolder = Annotated[Optional[Path], typer.Option(help="folder for result.json (default: a new runs/ folder)")]
#: The start and end of an access-log range (report, archive).
Since = Annotated[Optional[str], typer.Option(help="start: ISO 8601 (UTC), or an age such as 3h")]
Until = Annotated[Optional[str], typer.Option(help="end (exclusive): ISO 8601 (UTC), 'now', or an age")]
#: The model a command that sends traffic asks for.
Model = Annotated[Optional[str], typer.Option(help="model to ask for (default: the first one the origin lists at "
                                                    "/v1/models)")]
#: The simulated origin's profile (README, "The simulated origin").
Profile = Annotated[str, typer.Option(help="simulated origin profile: mac-mini, large, instant")]


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
