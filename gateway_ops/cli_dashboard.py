"""Commands: `dashboard` (Voilà page) and `report` (event report)."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds this area's commands to the `gateway-ops` app."""
