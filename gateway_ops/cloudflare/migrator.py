"""D1 migrations, tracked in the same ``d1_migrations`` table wrangler uses.

In the spirit of sqlite-utils' ``migrations.py``: ``pending()`` and ``applied()`` only read;
``apply()`` runs each pending file together with the row that records it, in one D1 request,
which D1 runs as one transaction — so a failing migration leaves no half-applied schema and no
record of it. Because the table, its columns and the file order are wrangler's,
``wrangler d1 migrations list DB --remote`` and gateway_ops always agree.

The migrator runs SQL through an ``execute(sql, params) -> rows`` function: the remote D1 query
API (``remote_executor``) or the local stack's D1 file, read-only (``local_executor``).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import queries
from ..accesslog import LocalAccessLog
from ..exceptions import AccessLogError
from .errors import CloudflareRequestError, MigrationError, cloudflare_errors
from .resources import D1_PERMISSION

Execute = Callable[[str, Sequence[Any]], list[dict[str, Any]]]
#: Names that are safe to write into the bookkeeping INSERT as a literal.
MIGRATION_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One SQL file under ``migrations/``."""

    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text()


@dataclass(frozen=True)
class AppliedMigration:
    """A row of ``d1_migrations``."""

    id: int
    name: str
    applied_at: str


def _order(name: str) -> tuple[int, str]:
    prefix = name.split("_", 1)[0]
    return (int(prefix) if prefix.isdigit() else 0, name)


def migration_files(directory: Path) -> list[Migration]:
    """The ``*.sql`` files in ``directory`` in wrangler's order (numeric prefix, then name).

    :raises MigrationError: when the folder is missing or a file name cannot be recorded safely
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise MigrationError(f"No migrations folder at {directory}: run gateway_ops from the project checkout.")
    migrations = []
    for path in sorted(directory.glob("*.sql"), key=lambda p: _order(p.name)):
        if not MIGRATION_NAME.match(path.name):
            raise MigrationError(
                f"Migration file name {path.name!r} may only use letters, digits, '_', '-' and '.': rename it."
            )
        migrations.append(Migration(path.name, path))
    return migrations


class Migrator:
    """Pending, applied and apply for one D1 database."""

    def __init__(self, execute: Execute, migrations_dir: Path, where: str = "the remote D1 database"):
        self.execute = execute
        self.migrations_dir = Path(migrations_dir)
        self.where = where

    def applied(self) -> list[AppliedMigration]:
        """Rows of ``d1_migrations``, oldest first ([] when the table does not exist yet). Read-only."""
        if not self.execute(queries.D1_MIGRATIONS_EXISTS, [queries.D1_MIGRATIONS_TABLE]):
            return []
        return [AppliedMigration(int(row["id"]), str(row["name"]), str(row["applied_at"]))
                for row in self.execute(queries.D1_MIGRATIONS_APPLIED, [])]

    def pending(self) -> list[Migration]:
        """Migration files not yet recorded as applied, in the order they will run. Read-only."""
        done = {migration.name for migration in self.applied()}
        return [migration for migration in migration_files(self.migrations_dir) if migration.name not in done]

    def apply(self, progress: bool = True, pending: list[Migration] | None = None) -> list[Migration]:
        """Applies every pending migration, each with its record, one request each; returns them.

        :param pending: what ``pending()`` just returned, to save reading it again

        :raises MigrationError: naming the migration that failed (it was rolled back; earlier ones stay)
        """
        from tqdm.auto import tqdm

        pending = self.pending() if pending is None else pending
        if not pending:
            return []
        self.execute(queries.D1_MIGRATIONS_CREATE, [])
        applied: list[Migration] = []
        for migration in tqdm(pending, desc="D1 migrations", unit="file", disable=not progress):
            sql = migration.sql().rstrip().rstrip(";") + ";\n" + queries.D1_MIGRATIONS_RECORD.format(name=migration.name)
            try:
                self.execute(sql, [])
            except CloudflareRequestError as error:
                raise _migration_failed(migration, error, applied, self.where) from None
            applied.append(migration)
        return applied


def _migration_failed(migration: Migration, error: CloudflareRequestError, applied: list[Migration],
                      where: str) -> MigrationError:
    if "UNIQUE constraint failed" in error.detail and queries.D1_MIGRATIONS_TABLE in error.detail:
        return MigrationError(
            f"Migration {migration.name} is already recorded as applied on {where} (another bootstrap ran at the "
            "same time?): run bootstrap again, it applies only what is still pending."
        )
    detail = error.detail or str(error)
    kept = f"the {len(applied)} migration(s) before it stay applied" if applied else "nothing was applied"
    return MigrationError(
        f"Migration {migration.name} failed on {where} and was rolled back ({detail}): fix that file and run "
        f"bootstrap again; {kept}."
    )


def remote_executor(client: Any, account_id: str, database_id: str) -> Execute:
    """Runs SQL on the remote D1 through the query API, parameters bound (as strings, D1's wire form)."""

    def execute(sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with cloudflare_errors("running SQL on the remote D1 database", D1_PERMISSION):
            page = client.d1.database.query(database_id, account_id=account_id, sql=sql,
                                            params=[str(p) for p in params])
            rows: list[dict[str, Any]] = []
            for result in page:
                rows.extend(result.results or [])
        return rows

    return execute


def local_executor(state_dir: Path) -> Execute:
    """Reads the local stack's D1 file (read-only): what the local migrations look like right now."""
    log = LocalAccessLog(state_dir)

    def execute(sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        try:
            return log.query(sql, params).to_dict("records")
        except AccessLogError as error:
            if "No local access log" in str(error):
                return []  # the local D1 has never been migrated: nothing applied yet
            raise

    return execute
