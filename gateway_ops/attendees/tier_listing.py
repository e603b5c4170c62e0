"""Every per-user limit, from both places a tier lives: the admin API and KV.

``attendees tier`` writes through the admin API whenever there is an admin path (the Worker keeps
the value in its controls object's user directory, read back with ``GET /admin/users``) and into
KV ``tier:{user}`` only without one (``tier_path``), so a listing of KV alone misses every tier set
during the event. This lists both, one row per user, and says where each limit comes from.

Where a user has both, the admin value is the one in force: the Worker looks the user up in the
directory first and, with an admin tier there, does not read KV for that user, and the user's own
Durable Object applies its admin tier over whatever limit the Worker proposes
(``worker/src/middleware/rateLimit.ts``, ``worker/src/limiter/admit.ts``).

Without an admin path (no token; a Worker without the admin API or without ``GET /admin/users``)
only KV is listed, with one line saying why. A wrong token or an unreachable gateway is an error,
as for ``attendees tier``: a listing that silently left out the admin tiers would mislead.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..controls.errors import AdminTokenMissingError, AdminUnavailableError
from ..settings import Settings
from .kv import KVStore, open_kv
from .tier_path import admin_client
from .tiers import list_tiers

#: The ``source`` of a row.
ADMIN_SOURCE = "admin API"
KV_SOURCE = "KV"
COLUMNS = ["user_id", "limit_per_minute", "blocked", "source", "note"]


@dataclass(frozen=True)
class TierListing:
    frame: pd.DataFrame  # COLUMNS, one row per user, sorted by user id
    note: str = ""  # why the admin API's tiers are not listed, when they are not

    def table(self) -> str:
        return "(no overrides)" if self.frame.empty else self.frame.to_string(index=False)


def admin_limits(users: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """The admin tiers in a user directory (an entry with only a key generation or a revocation has none)."""
    return {user: entry["limit"] for user, entry in users.items()
            if isinstance(entry.get("limit"), int) and not isinstance(entry.get("limit"), bool)}


def merge_tiers(admin: Mapping[str, int], kv: pd.DataFrame) -> pd.DataFrame:
    """One row per user from the admin tiers and KV's (``list_tiers``); the admin value wins where both exist.

    :param admin: user → admin tier
    :param kv: ``user_id, limit_per_minute`` as ``list_tiers`` answers
    """
    kv_limits = {str(user): int(limit) for user, limit in zip(kv["user_id"], kv["limit_per_minute"], strict=True)}
    rows = []
    for user in sorted(set(admin) | set(kv_limits)):
        if user in admin:
            shadowed = kv_limits.get(user)
            note = "" if shadowed is None else f"wins over KV {shadowed} (the Worker reads the admin tier first)"
            rows.append({"user_id": user, "limit_per_minute": admin[user], "source": ADMIN_SOURCE, "note": note})
        else:
            rows.append({"user_id": user, "limit_per_minute": kv_limits[user], "source": KV_SOURCE, "note": ""})
    frame = pd.DataFrame(rows, columns=["user_id", "limit_per_minute", "source", "note"])
    frame["blocked"] = frame["limit_per_minute"] == 0
    return frame[COLUMNS]


def list_all_tiers(settings: Settings, *, target: str | None = None, url: str | None = None, admin=None,
                   store: KVStore | None = None) -> TierListing:
    """Every per-user limit: the admin API's (when there is an admin path) and KV's.

    :param admin: an admin client to use (default: the gateway's, opened and closed here)
    :param store: the KV store to read (default: ``open_kv`` for the target)
    :raises AdminError: the token was refused, or the gateway cannot be reached
    """
    client = admin_client(settings, target, url, admin)
    try:
        limits, note = admin_limits(client.users()), ""
    except (AdminTokenMissingError, AdminUnavailableError) as error:
        limits, note = {}, f"Admin API tiers not listed, KV only: {error}"
    finally:
        if admin is None:
            client.close()
    kv = list_tiers(store if store is not None else open_kv(settings, target))
    return TierListing(merge_tiers(limits, kv), note)
