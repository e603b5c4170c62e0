"""Which path a per-user limit takes: the admin API (at once) or KV (the fallback).

The admin API (``PUT``/``DELETE /admin/users/{user}/tier``) holds tiers in the Worker's controls
Durable Object, so a change applies to the user's next request everywhere. It is used whenever an
admin token is known (ADMIN_TOKEN, or the local stack's token file). KV ``tier:{user}`` — up to
60 s to reach every Cloudflare location — is the fallback only where there is no admin path: no
token (e.g. remote without ADMIN_TOKEN), or a Worker without an admin API or without the tier
route. A wrong token or an unreachable gateway is an error, not a reason to fall back: the
facilitator must know the change did not happen as asked.

Clearing removes both the admin value and the KV key, since the Worker still reads
``tier:{user}`` from KV (the admin value only wins while it exists).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..controls.errors import AdminTokenMissingError, AdminUnavailableError
from ..settings import Settings
from .kv import PROPAGATION_SECONDS, open_kv
from .roster import check_user_id
from .tiers import clear_tiers, parse_limit, set_tiers


@dataclass(frozen=True)
class TierChange:
    users: tuple[str, ...]
    limit: int | None  # None: cleared
    via: str  # "the admin API" or "KV"
    delay_seconds: int  # how long until every location sees it
    note: str = ""  # why KV was used, when it was

    def sentence(self) -> str:
        when = "on their next request" if not self.delay_seconds else \
            f"within about {self.delay_seconds} s (KV propagation)"
        who = ", ".join(self.users)
        if self.limit is None:
            what = f"{who}: back to the shared limit"
        else:
            what = f"{who}: {'blocked' if self.limit == 0 else f'{self.limit} requests/minute'}"
        return f"{what}, via {self.via}, in effect {when}." + (f" ({self.note})" if self.note else "")


def admin_client(settings: Settings, target: str | None, url: str | None, admin):
    """``admin`` when given (tests, a notebook's own client), else the admin client for this gateway."""
    if admin is not None:
        return admin
    from ..controls.client import open_admin

    return open_admin(settings, target, url)


def set_tier(settings: Settings, user: str, limit: object, *, target: str | None = None, url: str | None = None,
             admin=None) -> TierChange:
    """Sets one user's limit (0 blocks), through the admin API when there is one, else KV."""
    value = parse_limit(check_user_id(user), limit)
    client = admin_client(settings, target, url, admin)
    try:
        client.set_tier(user, value)
        return TierChange((user,), value, "the admin API", 0)
    except (AdminTokenMissingError, AdminUnavailableError) as error:
        note = f"no admin path: {error}"
    store = open_kv(settings, target)
    set_tiers(store, {user: value})
    return TierChange((user,), value, "KV", PROPAGATION_SECONDS[store.target], note)


def clear_tier(settings: Settings, users: Iterable[str], *, target: str | None = None, url: str | None = None,
               admin=None) -> TierChange:
    """Removes users' limits: the admin value (when there is an admin path) and the KV key."""
    users = tuple(check_user_id(user) for user in users)
    client = admin_client(settings, target, url, admin)
    via, note = "the admin API", ""
    try:
        for user in users:
            client.clear_tier(user)
    except (AdminTokenMissingError, AdminUnavailableError) as error:
        via, note = "KV", f"no admin path: {error}"
    store = open_kv(settings, target)
    clear_tiers(store, users)
    delay = 0 if via == "the admin API" and store.target == "local" else PROPAGATION_SECONDS[store.target]
    return TierChange(users, None, via, delay, note)
