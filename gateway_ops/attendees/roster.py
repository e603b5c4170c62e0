"""Attendee user ids and their ``X-User-Key``s.

User ids follow the Worker's rule (1–64 characters from ``A-Z a-z 0-9 . _ @ -``); ids made from
names are slugged and de-duplicated, so any roster gives ids the Worker accepts. Keys use the
Worker's HMAC construction (``gateway_ops.keys``) and are written only to the CSV the facilitator
asked for — never logged or printed.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import pandas as pd

from ..exceptions import GatewayOpsError
from ..keys import user_key
from ..spreadsheet_csv import to_csv

USER_ID = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


class AttendeeError(GatewayOpsError):
    """An attendee input (roster, tier, token file) is malformed."""


def check_user_id(user_id: str) -> str:
    if not USER_ID.fullmatch(user_id or ""):
        raise AttendeeError(f"{user_id!r} is not a valid user id: use 1 to 64 characters from A-Z a-z 0-9 . _ @ -.")
    return user_id


def user_ids_numbered(count: int, prefix: str = "attendee") -> list[str]:
    """``attendee-001`` … with enough digits for ``count``."""
    if count < 1:
        raise AttendeeError("The number of attendees must be at least 1.")
    width = max(3, len(str(count)))
    return [check_user_id(f"{prefix}-{i:0{width}d}") for i in range(1, count + 1)]


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._@-]+", "-", ascii_name.strip().lower()).strip("-.")
    return slug[:56] or "attendee"


def user_ids_for_names(names: list[str]) -> list[str]:
    """One valid, unique id per name or email (``Zoë Ng`` → ``zoe-ng``; repeats get ``-2``, ``-3``)."""
    seen: dict[str, int] = {}
    ids = []
    for name in names:
        base = _slug(name)
        seen[base] = seen.get(base, 0) + 1
        ids.append(check_user_id(base if seen[base] == 1 else f"{base}-{seen[base]}"))
    return ids


def read_names_csv(path: str | Path) -> list[str]:
    """Names (or emails) from a CSV with a ``name`` or ``email`` column, or from its first column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise AttendeeError(f"Cannot read the roster {path}: {error.strerror}.") from None
    if not rows:
        raise AttendeeError(f"The roster {path} is empty.")
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(c) for c in ("name", "email") if c in header), None)
    body = rows[1:] if column is not None else rows
    names = [row[column or 0].strip() for row in body if row and row[column or 0].strip()]
    if not names:
        raise AttendeeError(f"The roster {path} has no names.")
    return names


def issue_keys(user_ids: list[str], secret: str, names: list[str] | None = None) -> pd.DataFrame:
    """A frame of ``user_id, user_key`` (and ``name`` when given) for the Worker's USER_KEY_SECRET."""
    if not secret:
        raise AttendeeError("USER_KEY_SECRET is not set: put it in the environment or .env (the same value the Worker has).")
    frame = pd.DataFrame({"user_id": [check_user_id(u) for u in user_ids]})
    frame["user_key"] = [user_key(secret, u) for u in frame["user_id"]]
    if names is not None:
        frame["name"] = names
    return frame


def write_keys_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Writes ``user_id,user_key[,name]`` readable by the owner only (it holds credentials), safe
    to open in a spreadsheet (a name or key starting with ``=``/``-``/``@`` … is not a formula:
    ``gateway_ops.spreadsheet_csv``)."""
    path = Path(path)
    to_csv(frame, path, private=True)
    return path
