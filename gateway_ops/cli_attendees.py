"""Commands: `attendees keys|tier|tiers|untier|reissue|revoke|oauth …` — prepare attendees before and during an event."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_support import GatewayUrl, Target, friendly_errors

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
    url: GatewayUrl = None,
) -> None:
    """Set one user's limit (overrides the shared one): admin API at once, else KV."""
    from .attendees.tier_path import set_tier
    from .settings import load_settings

    typer.echo(set_tier(load_settings(), user, limit, target=target, url=url).sentence())


@attendees.command()
@friendly_errors
def tiers(target: Target = None, url: GatewayUrl = None) -> None:
    """List every per-user limit override, from the admin API and KV, and which one is in force."""
    from .attendees.tier_listing import list_all_tiers
    from .settings import load_settings

    listing = list_all_tiers(load_settings(), target=target, url=url)
    typer.echo(listing.table())
    if listing.note:
        typer.echo(listing.note, err=True)


@attendees.command()
@friendly_errors
def untier(users: Annotated[list[str], typer.Argument(help="user ids")], target: Target = None,
           url: GatewayUrl = None) -> None:
    """Remove users' overrides (admin API and KV): they fall back to the shared limit."""
    from .attendees.tier_path import clear_tier
    from .settings import load_settings

    typer.echo(clear_tier(load_settings(), users, target=target, url=url).sentence())


KeysCsv = Annotated[Optional[Path], typer.Option("--csv", help="attendee keys CSV to update (default: the newest "
                                                               "runs/**/attendee_keys.csv listing the user)")]


@attendees.command()
@friendly_errors
def reissue(user: Annotated[str, typer.Argument(help="user id")], csv: KeysCsv = None, target: Target = None,
            url: GatewayUrl = None) -> None:
    """A new key for one attendee, printed as USER,KEY; their old key fails at once, nobody else's changes."""
    from .attendees.keyrings import reissue as run_reissue
    from .controls.client import open_admin
    from .settings import load_settings

    settings = load_settings()
    with open_admin(settings, target, url) as admin:
        done = run_reissue(admin, settings.user_key_secret, user, csv)
    typer.echo(done.line())
    typer.echo(f"Key generation {done.generation}; " + (f"updated {done.csv}." if done.csv else
                                                        "no attendee CSV lists this user (none updated)."), err=True)


@attendees.command()
@friendly_errors
def revoke(user: Annotated[str, typer.Argument(help="user id")], csv: KeysCsv = None, target: Target = None,
           url: GatewayUrl = None) -> None:
    """Every key of one attendee fails at once (401 bad_user_key) until `attendees reissue`."""
    from .attendees.keyrings import revoke as run_revoke
    from .controls.client import open_admin
    from .settings import load_settings

    with open_admin(load_settings(), target, url) as admin:
        updated = run_revoke(admin, user, csv)
    typer.echo(f"Revoked every key of {user}." + (f" Blanked its key in {updated}." if updated else ""))


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
