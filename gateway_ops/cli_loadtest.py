"""Commands: `loadtest ratelimit` and `loadtest capacity`."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds this area's commands to the `gateway-ops` app."""
