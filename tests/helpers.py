"""Helpers every test may import (``from helpers import …``); fixtures stay in conftest.py.

Kept free of pandas and of the local stack, so importing them costs nothing: a fresh user id (the
per-user limit and the access log are keyed by it, so tests that share the session stack must
never share a user), polling with a deadline instead of sleeping, and the UTC-minute guard.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from gateway_ops.minute_window import wait_before_start
from gateway_ops.paths import MIGRATIONS_DIR

T = TypeVar("T")

#: The repository's migration files in the order wrangler applies them (numeric prefix), read from
#: the folder here rather than from the migrator under test; a new migration needs no test edits.
MIGRATIONS: list[str] = sorted((p.name for p in MIGRATIONS_DIR.glob("*.sql")),
                               key=lambda name: int(name.split("_", 1)[0]))


def apply_all_migrations(db: Any) -> None:
    """Runs every migration, in order, on a sqlite3 connection shaped like the local D1."""
    for name in MIGRATIONS:
        db.executescript((MIGRATIONS_DIR / name).read_text())
#: The client credential the tests' local stacks require (their origin runs strict): set in the
#: environment as GATEWAY_CLIENT_API_KEY by the session fixture in conftest.py.
CLIENT_KEY = "sk-test-client-6Hq2Vn"
#: Codex stacks: the token their strict origin requires as X-Codex-Token (GATEWAY_CODEX_TOKEN).
CODEX_TOKEN = "codex-test-token-Pw7Ke3"
#: A model the tests' strict origin lists (any other is a 404 model_not_found).
MODEL = "gpt-4o-mini"


def client_headers(user_id: str, **extra: str) -> dict[str, str]:
    """``X-User-ID`` and the client credential, as every tool of the suite sends them."""
    return {"X-User-ID": user_id, "Authorization": f"Bearer {CLIENT_KEY}", **extra}


def fresh_user(prefix: str = "test") -> str:
    """A user id never seen before: ``prefix`` plus 10 random hex digits."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until(probe: Callable[[], T], timeout: float = 20.0, interval: float = 0.1) -> T:
    """Calls ``probe`` until it returns something truthy or ``timeout`` seconds have passed, and
    returns its last answer (falsy on time-out: the caller's assertion says what was missing)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(interval)


def wait_for_rows(log: Any, user_id: str, expected: int, timeout: float = 20.0):
    """The user's access-log rows (a DataFrame, by id) once at least ``expected`` have landed, or
    those found when ``timeout`` has passed: the Worker writes each row just after its response."""
    found: list[Any] = []

    def enough() -> bool:
        found[:] = [log.query("SELECT * FROM requests WHERE user_id = ? ORDER BY id", [user_id])]
        return len(found[0]) >= expected

    wait_until(enough, timeout, 0.2)
    return found[0]


def wait_unless_minute_has(seconds: float = 8.0) -> float:
    """Sleeps into the next UTC minute unless ``seconds`` are left in this one, so a count against
    the per-minute limit never straddles a window boundary (where admitting again is correct).
    This sleep is the point (waiting out a window), not a synchronisation; returns the wait."""
    wait = wait_before_start(time.time(), seconds)
    time.sleep(wait)
    return wait


def migration_names() -> list[str]:
    """Every migration of the project, in the order wrangler (and the migrator) applies them, so
    tests stay right when the next numbered migration lands."""
    from gateway_ops.cloudflare.migrator import migration_files
    from gateway_ops.paths import MIGRATIONS_DIR

    return [migration.name for migration in migration_files(MIGRATIONS_DIR)]
