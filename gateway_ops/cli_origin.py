"""Commands: ``origin concurrency N`` — apply the gate's setting locally or on Cloudflare.

The value usually comes from ``gateway-ops loadtest capacity``, which ends by recommending one.
"""
from __future__ import annotations

import os
from typing import Annotated

import typer

from .cli_support import Target, friendly_errors
from .settings import load_settings

app = typer.Typer()
origin_app = typer.Typer(help="The origin gate: apply ORIGIN_MAX_CONCURRENCY.", no_args_is_help=True)
app.add_typer(origin_app, name="origin")


@origin_app.command("concurrency")
@friendly_errors
def concurrency(
    value: Annotated[str, typer.Argument(help="requests in flight per origin: N, or one per origin (4,2)")],
    target: Target = None,
) -> None:
    """Set ORIGIN_MAX_CONCURRENCY: locally for the next `gateway-ops up`, or on the deployed Worker."""
    from .origin_concurrency import NAME, parse_concurrency, set_local, set_on_cloudflare

    settings = load_settings()
    value = parse_concurrency(value)
    where = target or settings.GATEWAY_TARGET
    if where not in ("local", "cloudflare"):
        raise typer.BadParameter("use local or cloudflare", param_hint="--target")
    if where == "local":
        path = set_local(settings.GATEWAY_STATE_DIR, value)
        typer.echo(f"{NAME}={value} saved in {path}: the next `gateway-ops up` gives it to the local Worker "
                   f"(restart a running stack: the local runtime reads its settings when it starts).")
        if os.environ.get(NAME):
            typer.secho(f"Note: {NAME} is set in this environment; where it is also set for `gateway-ops up`, "
                        f"the environment wins.", fg=typer.colors.YELLOW, err=True)
        return
    from .cli_cloudflare import _cloudflare

    client, account, script = _cloudflare(settings)
    if set_on_cloudflare(client, account, script, value):
        typer.echo(f"Created a placeholder Worker {script!r} to hold the setting until `gateway-ops deploy`.")
    typer.echo(f"{NAME}={value} set on Worker {script!r} (a secret: Cloudflare applies it at once).")
