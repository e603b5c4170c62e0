"""Notebook 05's steps, each ending in a check that fails when its promise is broken.

* :func:`issue_attendees` writes what the facilitator hands out: with ``USER_KEY_SECRET`` the keys
  CSV (private) and printable cards, without it a CSV of user ids; :func:`issued_check` reads that
  file back and passes only if it lists exactly the ids issued, once each, with keys that verify.
* :func:`probe_tier` proves a per-user limit holds on the running gateway with a fresh user.
* :func:`token_coverage_check`: in codex mode every attendee needs an OAuth token in KV.

Keys and tokens are never returned in a check or printed: only ids, counts and paths.
"""
from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..client import Credentials
from ..keys import user_key
from ..results import Check
from .cards import render_cards_html
from .kv import KVStore
from .oauth import users_without_token
from .roster import issue_keys, write_keys_csv
from .tiers import clear_tiers, set_tiers

KEYS_FILE = "attendee_keys.csv"
IDS_FILE = "attendee_ids.csv"
CARDS_FILE = "attendee_cards.html"


@dataclass(frozen=True)
class Issued:
    """What was handed out: the ids, the CSV listing them (with keys when ``with_keys``), the cards."""

    user_ids: list[str]
    path: Path
    with_keys: bool
    cards: Path | None = None

    def summary(self) -> str:
        """One line per file, for the notebook (paths and counts only)."""
        if self.with_keys:
            return f"{len(self.user_ids)} keys → {self.path} (private)\nprintable cards → {self.cards}"
        return f"{len(self.user_ids)} user ids → {self.path}"


def issue_attendees(user_ids: Sequence[str], folder: str | Path, *, secret: str = "",
                    names: list[str] | None = None, url: str = "") -> Issued:
    """Writes the attendees' files into ``folder``: with a secret ``attendee_keys.csv`` (owner-only)
    and ``attendee_cards.html`` for ``url``; without one (the gateway then asks for no key) only
    ``attendee_ids.csv``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ids = list(user_ids)
    if secret:
        roster = issue_keys(ids, secret, names=names)
        path = write_keys_csv(roster, folder / KEYS_FILE)
        cards = folder / CARDS_FILE
        cards.write_text(render_cards_html(roster, url))
        return Issued(ids, path, True, cards)
    path = folder / IDS_FILE
    path.write_text("user_id\n" + "".join(f"{user}\n" for user in ids))
    return Issued(ids, path, False)


def issued_check(issued: Issued, secret: str = "") -> Check:
    """Reads the written CSV back: passes only if it lists exactly ``issued.user_ids`` in order, each
    once, and — with keys — every key is the one the gateway will accept for its id."""
    with issued.path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    listed = [row.get("user_id", "") for row in rows]
    problems = []
    if listed != issued.user_ids:
        problems.append(f"{len(listed)} ids listed, not the {len(issued.user_ids)} issued")
    if len(set(listed)) != len(listed):
        problems.append("an id appears twice")
    if issued.with_keys:
        wrong = [row.get("user_id", "") for row in rows if row.get("user_key") != user_key(secret, row.get("user_id", ""))]
        if wrong:
            problems.append(f"{len(wrong)} keys do not verify (first: {wrong[0]})")
    name = "keys issued" if issued.with_keys else "user ids issued"
    expected = f"{len(issued.user_ids)} distinct ids" + (" with keys that verify" if issued.with_keys else "")
    observed = "; ".join(problems) or expected
    return Check(name, expected, observed, not problems)


def probe_tier(store: KVStore, url: str, limit: int, *, secret: str = "", api_key: str | None = None,
               user_id: str | None = None, get: Callable[..., httpx.Response] = httpx.get) -> Check:
    """Gives a fresh user the per-minute ``limit``, sends ``limit + 1`` requests and clears the tier
    again: passes only if the first ``limit`` were admitted and the next refused (429), or, for a
    limit of 0, the one request was blocked (403). Locally a tier applies at once; on Cloudflare KV
    takes up to a minute to reach every location. ``api_key`` (GATEWAY_CLIENT_API_KEY) is sent to
    the origin as ``Authorization: Bearer …``, so an origin that requires a key serves the probe."""
    probe = user_id or f"tier-check-{uuid.uuid4().hex[:8]}"
    headers = Credentials(key_secret=secret or None, api_key=api_key).headers(probe)
    set_tiers(store, {probe: limit})
    try:
        statuses = [get(f"{url.rstrip('/')}/v1/models", headers=headers, timeout=30).status_code
                    for _ in range(limit + 1)]
    finally:
        clear_tiers(store, [probe])
    expected = [200] * limit + [429] if limit else [403]
    return Check("tier honoured", expected, statuses, statuses == expected)


def token_coverage_check(store: KVStore, user_ids: Sequence[str]) -> Check:
    """Codex mode: passes only if every attendee has an OAuth token in KV (values are not read)."""
    missing = users_without_token(store, user_ids)
    observed = f"{len(missing)} missing" + (f" (first: {missing[0]})" if missing else "")
    return Check("OAuth token for every attendee", "0 missing", observed, not missing)
