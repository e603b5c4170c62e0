"""Key reissue and revocation for one attendee, and the attendee CSV that follows them.

The Worker keeps each user's key generation (admin API contract of issue 14); ``reissue`` asks
it for the next generation and computes that generation's key here from ``USER_KEY_SECRET``
(``gateway_ops.keys``): the secret never crosses the wire. From then on only the new key works,
and nobody else's key changes. ``revoke`` makes every key of the user fail until a reissue.

The attendee CSV (``user_id,user_key[,name]``, written by ``attendees keys`` or notebook 05) is
updated when one is known: the file given, or else the newest ``attendee_keys.csv`` under
``runs/`` (``GATEWAY_RUNS_DIR``) that lists the user. A revoked user's ``user_key`` is left empty there.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..keys import user_key
from ..paths import runs_root
from .roster import AttendeeError, check_user_id

KEYS_FILE = "attendee_keys.csv"  # the name notebook 05 (prepare.py) writes


@dataclass(frozen=True)
class Reissued:
    user_id: str
    generation: int
    key: str
    csv: Path | None  # the attendee CSV updated, if any

    def line(self) -> str:
        """``USER,KEY``, the form `attendees reissue` prints (one CSV row)."""
        return f"{self.user_id},{self.key}"


def reissue(admin, secret: str | None, user_id: str, csv_path: Path | None = None,
            runs_dir: Path | None = None) -> Reissued:
    """Reissues ``user_id``'s key through the admin API and returns the new key.

    :raises AttendeeError: when USER_KEY_SECRET is unset (checked first: without it the new key
        could not be computed, and the old one would already have stopped working)
    :raises AdminError: when the admin API cannot be used
    """
    check_user_id(user_id)
    if not secret:
        raise AttendeeError("USER_KEY_SECRET is not set: reissue computes the new key from it (the same value the "
                            "Worker has); nothing was changed.")
    generation = admin.reissue(user_id)
    key = user_key(secret, user_id, generation)
    path = csv_path or find_keys_csv(user_id, runs_dir)
    updated = set_key_in_csv(path, user_id, key) if path else False
    return Reissued(user_id, generation, key, path if updated else None)


def revoke(admin, user_id: str, csv_path: Path | None = None, runs_dir: Path | None = None) -> Path | None:
    """Revokes every key of ``user_id``; returns the attendee CSV whose key was blanked, if any."""
    check_user_id(user_id)
    admin.revoke(user_id)
    path = csv_path or find_keys_csv(user_id, runs_dir)
    return path if path and set_key_in_csv(path, user_id, "") else None


def find_keys_csv(user_id: str, runs_dir: Path | None = None) -> Path | None:
    """The newest ``attendee_keys.csv`` under ``runs_dir`` (default: runs/) that lists ``user_id``, or None."""
    candidates = sorted(Path(runs_dir or runs_root()).glob(f"**/{KEYS_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True)
    return next((path for path in candidates if user_id in _user_ids(path)), None)


def _user_ids(path: Path) -> set[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return {row.get("user_id", "") for row in csv.DictReader(handle)}
    except (OSError, csv.Error, UnicodeDecodeError):
        return set()


def set_key_in_csv(path: Path, user_id: str, key: str) -> bool:
    """Replaces ``user_id``'s ``user_key`` in the CSV, keeping its other rows, columns and its
    owner-only mode; False when the file does not list the user.

    :raises AttendeeError: when the file cannot be read or has no ``user_id``/``user_key`` columns
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns, rows = list(reader.fieldnames or []), list(reader)
    except OSError as error:
        raise AttendeeError(f"Cannot read the attendee CSV {path}: {error.strerror}.") from None
    if "user_id" not in columns or "user_key" not in columns:
        raise AttendeeError(f"{path} is not an attendee keys CSV (it needs user_id and user_key columns).")
    found = False
    for row in rows:
        if row["user_id"] == user_id:
            row["user_key"], found = key, True
    if not found:
        return False
    staged = path.with_name(path.name + ".tmp")
    staged.touch(mode=0o600, exist_ok=True)
    staged.chmod(0o600)
    with staged.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    staged.replace(path)
    return True
