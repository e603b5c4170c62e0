"""Commands: `control status|maintenance|limit|models|max-tokens|budget` — the event's controls.

Each command builds one change (``controls.model``), sends it through the admin API
(``controls.client``) and prints the controls now in force. The Worker holds them in a Durable
Object: every request sees a change within 2 s of the command returning, without a redeploy.
"""
from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from .cli_support import GatewayUrl, Target, friendly_errors

app = typer.Typer()
control = typer.Typer(help="The event's controls: maintenance, limit, models, max-tokens, budget (at once, "
                           "no redeploy).", no_args_is_help=True)
maintenance = typer.Typer(help="Pause every /v1 request (503 maintenance) or resume.", no_args_is_help=True)
models = typer.Typer(help="Allow only some models, or any.", no_args_is_help=True)
app.add_typer(control, name="control")
control.add_typer(maintenance, name="maintenance")
control.add_typer(models, name="models")

IN_EFFECT = "In effect on every request within 2 s."


def _admin(url: str | None, target: str | None):
    from .controls.client import open_admin
    from .settings import load_settings

    return open_admin(load_settings(), target, url)


def apply_change(change: dict[str, Any], url: str | None, target: str | None) -> None:
    """Sends one change and prints the controls now in force."""
    with _admin(url, target) as admin:
        now = admin.change(change)
    typer.echo(now.line())
    typer.echo(IN_EFFECT)


@control.command()
@friendly_errors
def status(url: GatewayUrl = None, target: Target = None) -> None:
    """The event's controls and the origin gate's state (per origin: in flight, waiting, healthy)."""
    from .controls.status import read_status, status_text

    with _admin(url, target) as admin:
        typer.echo(status_text(read_status(admin)))


@maintenance.command("on")
@friendly_errors
def maintenance_on(
    message: Annotated[Optional[str], typer.Option(help="what attendees read, e.g. 'back at 10:15'")] = None,
    url: GatewayUrl = None,
    target: Target = None,
) -> None:
    """Every /v1 request gets 503 maintenance with the message and Retry-After: 60."""
    from .controls.model import maintenance_change

    apply_change(maintenance_change(True, message), url, target)


@maintenance.command("off")
@friendly_errors
def maintenance_off(url: GatewayUrl = None, target: Target = None) -> None:
    """Back to normal."""
    from .controls.model import maintenance_change

    apply_change(maintenance_change(False), url, target)


@control.command()
@friendly_errors
def limit(
    n: Annotated[str, typer.Argument(metavar="N", help="requests per minute per user (0 blocks everyone), or 'off'")],
    url: GatewayUrl = None,
    target: Target = None,
) -> None:
    """The per-user limit for everyone (a per-user tier still overrides it); 'off': RATE_LIMIT_PER_MINUTE."""
    from .controls.model import limit_change

    apply_change(limit_change(None if n.strip().lower() == "off" else n), url, target)


@models.command("allow")
@friendly_errors
def models_allow(
    names: Annotated[str, typer.Argument(metavar="A,B", help="model names, comma-separated")],
    url: GatewayUrl = None,
    target: Target = None,
) -> None:
    """Only these models: any other gets 403 model_not_allowed naming the allowed ones."""
    from .controls.model import models_change

    apply_change(models_change(names), url, target)


@models.command("any")
@friendly_errors
def models_any(url: GatewayUrl = None, target: Target = None) -> None:
    """No allow-list: any model passes."""
    from .controls.model import models_change

    apply_change(models_change(None), url, target)


@control.command("max-tokens")
@friendly_errors
def max_tokens(
    n: Annotated[str, typer.Argument(metavar="N|off", help="the cap, or 'off'")],
    url: GatewayUrl = None,
    target: Target = None,
) -> None:
    """Cap max_tokens/max_completion_tokens (higher values are lowered; requests without one get N)."""
    from .controls.model import max_tokens_change

    apply_change(max_tokens_change(n), url, target)


@control.command()
@friendly_errors
def budget(
    tokens: Annotated[str, typer.Argument(metavar="TOKENS|off", help="tokens per user, or 'off'")],
    per: Annotated[Optional[str], typer.Option("--per", help="hour (each UTC hour) or event")] = None,
    url: GatewayUrl = None,
    target: Target = None,
) -> None:
    """Per-user token budget; once spent, 429 token_budget (until the next hour with --per hour)."""
    from .controls.model import budget_change

    if tokens.strip().lower() != "off" and per is None:
        raise typer.BadParameter("say --per hour or --per event", param_hint="--per")
    apply_change(budget_change(tokens, per), url, target)
