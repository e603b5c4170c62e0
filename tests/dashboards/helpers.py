"""Constructed access-log rows and databases for the dashboard tests, and real traffic for the stack ones.

Fresh user ids, waiting for log rows and the minute guard are the shared ones in tests/helpers.py."""
from __future__ import annotations

import concurrent.futures
import sqlite3
import uuid
from pathlib import Path

import httpx
import pandas as pd

from gateway_ops.accesslog import D1_SUBDIR
from helpers import MODEL, apply_all_migrations, client_headers

NOW = pd.Timestamp("2026-11-28T10:30:30Z")
COLUMNS = ("request_id", "user_id", "method", "endpoint", "model", "status", "latency_ms", "ttfb_ms", "tokens_est",
           "stream", "error_class", "ip_hash", "created_at")


def iso(moment) -> str:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"


def row(user: str, seconds_ago: float, status: int = 200, latency: int = 100, ttfb: int | None = 20,
        tokens: int | None = 10, now=NOW, **extra) -> dict:
    """One ``requests`` row, ``seconds_ago`` before ``now``."""
    return {"request_id": extra.pop("request_id", uuid.uuid4().hex), "user_id": user, "method": "POST",
            "endpoint": "/v1/chat/completions", "model": "m", "status": status, "latency_ms": latency,
            "ttfb_ms": ttfb, "tokens_est": tokens, "stream": 0, "error_class": None if status < 400 else "x",
            "ip_hash": None, "created_at": iso(pd.Timestamp(now) - pd.Timedelta(seconds=seconds_ago)), **extra}


def frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as the log returns them (ids in insertion order)."""
    result = pd.DataFrame(rows, columns=list(COLUMNS))
    result.insert(0, "id", range(1, len(result) + 1))
    return result


class LogFile:
    """A local-D1-shaped SQLite file built by every migration, that ``LocalAccessLog`` reads."""

    def __init__(self, state_dir: Path):
        self.state_dir = Path(state_dir)
        folder = self.state_dir / D1_SUBDIR
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "test.sqlite"
        with sqlite3.connect(self.path) as db:
            apply_all_migrations(db)

    def add(self, rows: list[dict]) -> None:
        with sqlite3.connect(self.path) as db:
            db.executemany(f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                           [tuple(r[c] for c in COLUMNS) for r in rows])

    def execute(self, sql: str, params=()) -> list:
        with sqlite3.connect(self.path) as db:
            return db.execute(sql, params).fetchall()


def send(url: str, user: str, count: int, *, chat_every: int = 0, concurrency: int = 10,
         headers: dict[str, str] | None = None) -> list[int]:
    """``count`` requests for ``user`` through the gateway (every ``chat_every``-th a chat completion)."""
    def one(i: int) -> int:
        headers_ = client_headers(user, **(headers or {}))
        if chat_every and i % chat_every == 0:
            return httpx.post(f"{url}/v1/chat/completions", headers=headers_, timeout=30,
                              json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                    "max_tokens": 4}).status_code
        return httpx.get(f"{url}/v1/models", headers=headers_, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(count)))


def allow_only_loopback(page) -> list[str]:
    """Routes every request of a Playwright ``page``: loopback (and data:/blob:) goes through, anything
    else is aborted and listed in the returned list, which a test asserts stays empty (offline pages)."""
    external: list[str] = []

    def only_loopback(route) -> None:
        if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    return external
