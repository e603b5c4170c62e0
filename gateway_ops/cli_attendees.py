"""Commands: `attendees keys|tier|tiers|untier|oauth …` — prepare attendees before and during an event."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_support import Target, friendly_errors

app = typer.Typer()
attendees = typer.Typer(help="Attendee keys, per-user limits and OAuth tokens.", no_args_is_help=True)
oauth = typer.Typer(help="OAuth tokens for codex mode (values are never printed).", no_args_is_help=True)
app.add_typer(attendees, name="attendees")
attendees.add_typer(oauth, name="oauth")


def _kv(target: str | None):
    from .attendees import open_kv
    from .settings import load_settings

    return open_kv(load_settings(), target)


@attendees.command()
@friendly_errors
def keys(
    out: Annotated[Path, typer.Option("--out", help="CSV to write (user_id,user_key)")],
    count: Annotated[Optional[int], typer.Option(help="number of attendees (ids prefix-001 …)")] = None,
    prefix: Annotated[str, typer.Option(help="user id prefix with --count")] = "attendee",
    names: Annotated[Optional[Path], typer.Option(help="CSV of names or emails instead of --count")] = None,
    cards: Annotated[Optional[Path], typer.Option(help="also write a printable HTML sheet of cards")] = None,
    url: Annotated[Optional[str], typer.Option(help="gateway URL on the cards (default: GATEWAY_URL)")] = None,
) -> None:
    """Issue user ids and their X-User-Keys with USER_KEY_SECRET from the environment."""
    from .attendees import issue_keys, read_names_csv, render_cards_html, user_ids_for_names, user_ids_numbered, write_keys_csv
    from .settings import load_settings

    if (count is None) == (names is None):
        raise typer.BadParameter("give exactly one of --count or --names")
    settings = load_settings()
    roster = read_names_csv(names) if names else None
    if roster:
        user_ids = user_ids_for_names(roster)
    else:
        assert count is not None  # exactly one of --count and --names, checked above
        user_ids = user_ids_numbered(count, prefix)
    frame = issue_keys(user_ids, settings.user_key_secret or "", names=roster)
    write_keys_csv(frame, out)
    typer.echo(f"Wrote {len(frame)} attendee keys to {out} (keep it private).")
    if cards:
        from .private_files import write_private

        write_private(cards, render_cards_html(frame, url or settings.gateway_url))
        typer.echo(f"Wrote printable cards to {cards}.")


@attendees.command()
@friendly_errors
def tier(
    user: Annotated[str, typer.Argument(help="user id")],
    limit: Annotated[str, typer.Argument(help="requests per minute; 0 blocks the user")],
    target: Target = None,
) -> None:
    """Set one user's limit (overrides RATE_LIMIT_PER_MINUTE)."""
    from .attendees import set_tiers
    from .attendees.kv import PROPAGATION_SECONDS

    store = _kv(target)
    set_tiers(store, {user: limit})
    delay = PROPAGATION_SECONDS[store.target]
    when = "on their next request" if not delay else f"within about {delay} s (KV propagation)"
    typer.echo(f"{user}: {'blocked' if limit.strip() == '0' else f'{limit} requests/minute'}, in effect {when}.")


@attendees.command()
@friendly_errors
def tiers(target: Target = None) -> None:
    """List every per-user limit override."""
    from .attendees import list_tiers

    frame = list_tiers(_kv(target))
    typer.echo("(no overrides)" if frame.empty else frame.to_string(index=False))


@attendees.command()
@friendly_errors
def untier(users: Annotated[list[str], typer.Argument(help="user ids")], target: Target = None) -> None:
    """Remove users' overrides: they fall back to RATE_LIMIT_PER_MINUTE."""
    from .attendees import clear_tiers

    typer.echo(f"Cleared {clear_tiers(_kv(target), users)} override(s).")


@oauth.command("load")
@friendly_errors
def oauth_load(file: Annotated[Path, typer.Argument(help="CSV with columns user_id,token")], target: Target = None) -> None:
    """Load OAuth tokens into KV (oauth:{user}) in bulk."""
    from .attendees import load_tokens_csv, store_tokens

    typer.echo(f"Stored {store_tokens(_kv(target), load_tokens_csv(file))} token(s); values not shown.")


@oauth.command("missing")
@friendly_errors
def oauth_missing(
    users: Annotated[Path, typer.Argument(help="CSV with a user_id column (e.g. the keys CSV)")], target: Target = None
) -> None:
    """List users (from a CSV) who have no OAuth token; exit 1 if any."""
    from .attendees import users_without_token
    from .spreadsheet_csv import read_csv

    missing = users_without_token(_kv(target), read_csv(users, dtype=str)["user_id"].astype(str).tolist())
    typer.echo("\n".join(missing) if missing else "Every user has a token.")
    if missing:
        raise typer.Exit(1)


@oauth.command("revoke")
@friendly_errors
def oauth_revoke(user: Annotated[str, typer.Argument(help="user id")], target: Target = None) -> None:
    """Revoke one user's OAuth token: their next request gets 401."""
    from .attendees import revoke_token

    revoke_token(_kv(target), user)
    typer.echo(f"Revoked the token of {user}.")
