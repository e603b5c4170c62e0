"""Only reads: the guard in front of ``gateway-ops query``.

The local access log is opened read-only (``mode=ro``), but the remote D1 query API runs whatever
it is given, several statements included — ``DELETE``, ``DROP``, an ``UPDATE`` hidden in a CTE.
:func:`check_read_only` accepts one statement that only reads, and decides it the way SQLite
itself does: it compiles the statement against an empty in-memory copy of the access log's schema
(``migrations/``) with an authorizer that allows reading and nothing else, and stops it before
its first step. Nothing is executed, remotely or locally, until it has passed.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from .exceptions import AccessLogError
from .paths import MIGRATIONS_DIR

#: What a reading statement asks SQLite for (https://www.sqlite.org/c3ref/c_alter_table.html).
READING_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, 33})  # 33: RECURSIVE
#: Pragmas that only describe the schema.
READING_PRAGMAS = frozenset({"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
                             "foreign_key_list"})
#: The first word of a statement that can only read; anything else is refused before compiling.
READING_STARTS = ("select", "with", "values", "explain", "pragma")
_LEADING_NOISE = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/)*", re.DOTALL)


def check_read_only(sql: str, migrations_dir: Path = MIGRATIONS_DIR) -> None:
    """Returns when ``sql`` is a single statement that only reads the access log.

    :raises AccessLogError: saying why it was refused (a write, several statements, an unknown table)
    """
    first = _LEADING_NOISE.sub("", sql, count=1)[:16].lower()
    if not first.startswith(READING_STARTS):
        raise AccessLogError(_refusal(f"it starts with {first.split()[0]!r}" if first.split() else "it is empty"))
    denied: list[str] = []
    db = _schema(migrations_dir)
    db.set_authorizer(lambda action, arg1, arg2, _db, _trigger: _authorize(action, arg1, arg2, denied))
    db.set_progress_handler(lambda: 1, 1)  # stop at the first step: compile, never run
    try:
        db.execute(sql)
    except sqlite3.ProgrammingError as error:
        if "one statement" in str(error):
            raise AccessLogError(_refusal("it is more than one statement")) from None
        raise AccessLogError(f"The query cannot run: {error}.") from None  # e.g. a ? with no parameter
    except sqlite3.Error as error:
        if denied:
            raise AccessLogError(_refusal(f"it would {denied[0]}")) from None
        if "interrupted" not in str(error):
            raise AccessLogError(f"The query does not compile on the access log's schema: {error}.") from None
    finally:
        db.close()


def _refusal(why: str) -> str:
    return f"Refusing the query: {why}. `gateway-ops query` only reads (one SELECT, WITH … SELECT or read-only PRAGMA)."


def _authorize(action: int, arg1: str | None, arg2: str | None, denied: list[str]) -> int:
    if action in READING_ACTIONS and not (action == sqlite3.SQLITE_FUNCTION and arg2 == "load_extension"):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in READING_PRAGMAS:
        return sqlite3.SQLITE_OK  # their argument is a table or index name, never a new value
    target = arg2 if action == sqlite3.SQLITE_FUNCTION else arg1
    denied.append(_ACTION_NAMES.get(action, f"do SQLite action {action}") + (f" ({target})" if target else ""))
    return sqlite3.SQLITE_DENY


_ACTION_NAMES = {
    sqlite3.SQLITE_INSERT: "insert", sqlite3.SQLITE_UPDATE: "update", sqlite3.SQLITE_DELETE: "delete",
    sqlite3.SQLITE_CREATE_TABLE: "create a table", sqlite3.SQLITE_DROP_TABLE: "drop a table",
    sqlite3.SQLITE_ALTER_TABLE: "alter a table", sqlite3.SQLITE_PRAGMA: "run a pragma",
    sqlite3.SQLITE_ATTACH: "attach a database", sqlite3.SQLITE_TRANSACTION: "open a transaction",
    sqlite3.SQLITE_FUNCTION: "call",
}


def _schema(migrations_dir: Path) -> sqlite3.Connection:
    """An empty in-memory database with the access log's tables, views and indexes."""
    db = sqlite3.connect(":memory:")
    for migration in sorted(Path(migrations_dir).glob("*.sql")):
        db.executescript(migration.read_text())
    return db
