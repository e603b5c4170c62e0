"""Whether the local D1 needs wrangler's migration run, from a stamp left by the last one.

``wrangler d1 migrations apply --local`` costs ~5 s of Node start-up even when nothing is pending,
on every ``gateway-ops up`` and every test stack. After it succeeds the stack writes
``migrations.stamp.json`` into the state folder: the D1 binding of wrangler.toml (name and id: a
new id means a new local database file), a digest of every migration file's name and text, and
the database file it migrated. The next start skips wrangler only when all of that is unchanged
and the file, read read-only, still records every migration as applied (``Migrator.pending``).
Anything else — a new or edited migration, another database id, a deleted, replaced or unreadable
file, a missing or malformed stamp — runs wrangler as before. The stamp is a cache: deleting it
is always safe.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from .accesslog import find_local_database
from .cloudflare.migrator import Migrator, local_executor, migration_files
from .cloudflare.wrangler_toml import WorkerConfig
from .exceptions import GatewayOpsError

STAMP_NAME = "migrations.stamp.json"


def fingerprint(state_dir: Path, config: WorkerConfig) -> dict[str, Any]:
    """What the stamp records now: the D1 binding, the migrations' digest and the database file.

    :raises GatewayOpsError: when there is no migrated local database (yet)
    """
    digest = hashlib.sha256()
    for migration in migration_files(config.migrations_dir):
        digest.update(migration.name.encode() + b"\0" + migration.path.read_bytes() + b"\0")
    database = find_local_database(state_dir)
    return {"d1": f"{config.d1_name}:{config.d1_id or ''}", "migrations": digest.hexdigest(),
            "database": database.relative_to(state_dir).as_posix()}


def is_current(state_dir: Path, config: WorkerConfig) -> bool:
    """True only when the stamp matches the fingerprint and nothing is pending in the database."""
    state_dir = Path(state_dir).resolve()
    try:
        stamp = json.loads((state_dir / STAMP_NAME).read_text())
        if stamp != fingerprint(state_dir, config):
            return False
        return not Migrator(local_executor(state_dir), config.migrations_dir).pending()
    except (OSError, ValueError, sqlite3.Error, GatewayOpsError):
        return False


def write(state_dir: Path, config: WorkerConfig) -> None:
    """Records the fingerprint after wrangler migrated ``state_dir`` (no stamp when there is no database)."""
    state_dir = Path(state_dir).resolve()
    try:
        stamp = fingerprint(state_dir, config)
    except (OSError, sqlite3.Error, GatewayOpsError):
        return
    (state_dir / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n")
