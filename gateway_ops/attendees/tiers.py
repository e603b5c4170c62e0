"""Per-user limits: ``tier:{user}`` in KV overrides RATE_LIMIT_PER_MINUTE for that user; ``0`` blocks.

The Worker reads the tier on every request, so a change applies to the user's next request
(after KV propagation on Cloudflare: up to 60 s).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from .kv import KVStore
from .roster import AttendeeError, check_user_id

PREFIX = "tier:"


def parse_limit(user_id: str, value: object) -> int:
    """``value`` as a per-minute limit ≥ 0 (0 blocks); :raises AttendeeError: naming the user otherwise."""
    try:
        limit = int(str(value).strip())
    except ValueError:
        limit = -1
    if limit < 0 or str(value).strip() != str(limit):
        raise AttendeeError(f"The limit for {user_id} must be a whole number of requests per minute ≥ 0 (0 blocks), got {value!r}.")
    return limit


def set_tiers(store: KVStore, limits: Mapping[str, object]) -> int:
    """Sets ``tier:{user}`` for each user in one bulk write; checks every input first. Returns the count."""
    items = {f"{PREFIX}{check_user_id(user)}": str(parse_limit(user, value)) for user, value in limits.items()}
    store.put_many(items)
    return len(items)


def list_tiers(store: KVStore) -> pd.DataFrame:
    """Every override: ``user_id, limit_per_minute, blocked``."""
    keys = store.list_keys(PREFIX)
    values = store.get_many(keys)
    rows = [{"user_id": key[len(PREFIX):], "limit_per_minute": int(v)} for key, v in values.items()
            if v is not None and v.strip().isdigit()]
    frame = pd.DataFrame(rows, columns=["user_id", "limit_per_minute"])
    frame["blocked"] = frame["limit_per_minute"] == 0
    return frame.sort_values("user_id", ignore_index=True)


def clear_tiers(store: KVStore, user_ids: Iterable[str]) -> int:
    """Removes overrides, so those users fall back to RATE_LIMIT_PER_MINUTE."""
    keys = [f"{PREFIX}{check_user_id(user)}" for user in user_ids]
    store.delete_many(keys)
    return len(keys)
