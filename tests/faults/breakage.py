"""Honest failures of the local runtime's storage, and of the origin, each undone on exit.

The local Worker keeps D1, KV and its Durable Objects in SQLite files under the state folder
(workerd opens them in WAL mode, so a change made from outside is seen on its next statement).
Rather than mock a binding, each context manager makes the real storage fail underneath the
real Worker, the way a failing service would:

* :func:`d1_writes_failing` — a trigger makes every ``INSERT INTO requests`` fail (D1 answers
  ``D1_ERROR … SQLITE_CONSTRAINT_TRIGGER``), so the access-log write fails and nothing else does;
* :func:`kv_failing` — KV's own table (``_mf_entries``) is moved away, so every KV read fails
  inside miniflare's KV service (``no such table``), as a KV outage would;
* :func:`limiter_failing` — triggers make one user's rate-limiter Durable Object fail to store
  its count, so its ``hit()`` throws and every other user is unaffected;
* :func:`origin_down` — the simulated origin's process is stopped (connections refused), then
  started again on the same port.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from gateway_ops.accesslog import find_local_database
from gateway_ops.processes import ManagedProcess
from gateway_ops.stack import LocalStack

KV_DIR = Path("v3") / "kv" / "miniflare-KVNamespaceObject"
LIMITER_DIR = Path("v3") / "do" / "organized-gateway-RateLimiter"


def execute(path: Path, *statements: str) -> None:
    with closing(sqlite3.connect(path, timeout=10)) as db, db:
        for statement in statements:
            db.execute(statement)


@contextmanager
def d1_writes_failing(state_dir: Path) -> Iterator[None]:
    database = find_local_database(state_dir)
    execute(database, "CREATE TRIGGER fault_d1_down BEFORE INSERT ON requests "
                      "BEGIN SELECT RAISE(ABORT, 'injected D1 write failure'); END")
    try:
        yield
    finally:
        execute(database, "DROP TRIGGER IF EXISTS fault_d1_down")


def kv_database(state_dir: Path) -> Path:
    """The local GATEWAY_KV namespace's SQLite file (the one holding ``_mf_entries``)."""
    for path in sorted((Path(state_dir) / KV_DIR).glob("*.sqlite")):
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name LIKE '_mf_entries%'").fetchone():
                return path
    raise AssertionError(f"no local KV namespace under {state_dir}: send one /v1 request first")


@contextmanager
def kv_failing(state_dir: Path) -> Iterator[None]:
    database = kv_database(state_dir)
    execute(database, "ALTER TABLE _mf_entries RENAME TO _mf_entries_fault")
    try:
        yield
    finally:
        execute(database, "ALTER TABLE _mf_entries_fault RENAME TO _mf_entries")


def limiter_database(state_dir: Path, user: str) -> Path:
    """The SQLite file of ``user``'s rate-limiter Durable Object (miniflare records its name)."""
    for path in sorted((Path(state_dir) / LIMITER_DIR).glob("*.sqlite")):
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            try:
                names = {row[-1] for row in db.execute("SELECT * FROM __miniflare_do_name")}
            except sqlite3.Error:
                continue
        if user in names:
            return path
    raise AssertionError(f"{user} has no rate-limiter object yet: send one request as {user} first")


@contextmanager
def limiter_failing(state_dir: Path, user: str) -> Iterator[None]:
    database = limiter_database(state_dir, user)
    execute(database, *(f"CREATE TRIGGER fault_limiter_{when} BEFORE {when} ON rate_window "
                        "BEGIN SELECT RAISE(ABORT, 'injected limiter storage failure'); END"
                        for when in ("INSERT", "UPDATE")))
    try:
        yield
    finally:
        execute(database, "DROP TRIGGER IF EXISTS fault_limiter_INSERT", "DROP TRIGGER IF EXISTS fault_limiter_UPDATE")


@contextmanager
def origin_down(stack: LocalStack, ready_timeout: float = 60.0) -> Iterator[None]:
    """Stops the stack's simulated origin, and starts it again (same command, same port) on exit."""
    assert stack.origin is not None, "the stack runs no simulated origin"
    argv = stack.origin.argv
    stack.origin.stop()
    try:
        yield
    finally:
        stack.origin = ManagedProcess("simulated origin", argv)
        stack.origin.start(ready=lambda line: line.startswith("origin ready"))
        stack.origin.wait_ready(ready_timeout)
